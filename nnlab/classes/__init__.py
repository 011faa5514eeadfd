"""Class mode: a teacher's class, its students, their leaderboard, and the class's rules.

- ``rules.py``: a class, a student, a challenge, the class's limits and the parts of the UI it may
  hide, each checked in words (no database);
- ``store.py``: ``ClassStore``, the classes in the run store's database (SQLite or PostgreSQL), the
  teacher's secret kept as a hash, a student's trainings counted in slots;
- ``submit.py``: ``submit_trainings``, one training or a group (a sweep) queued with the class's
  rules checked for the group as a whole.
"""

from nnlab.classes.rules import HIDEABLE, Challenge, ClassLimits, Classroom, Entry, Member
from nnlab.classes.store import ClassStore, best_per_student
from nnlab.classes.submit import Training, submit_trainings

__all__ = [
    "HIDEABLE",
    "Challenge",
    "ClassLimits",
    "ClassStore",
    "Classroom",
    "Entry",
    "Member",
    "Training",
    "best_per_student",
    "submit_trainings",
]
