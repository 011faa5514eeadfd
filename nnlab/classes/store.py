"""Classes in the run store: the class itself, its students, and the runs each student trained in it.

``ClassStore`` works on the run store's own database (``RunStore.db``: SQLite or PostgreSQL), so a
class reads the same from every web server. The teacher's secret (``secrets.token_urlsafe``, 256
bits) is handed out once, in the teacher link, and kept only as its SHA-256: the database alone lets
nobody open the teacher page. The join link holds only the class id.

A student's trainings are counted through reserved slots (``class_runs``): ``reserve`` counts the
student's trainings and takes the new slots in one transaction under the class lock, so two submits
at the same moment (two tabs, two web servers) cannot both take the last slot; ``attach`` names the
run a slot became, ``release`` gives back a slot whose run was never created.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any

import sqlalchemy as sa

from nnlab.classes.rules import (
    HIDEABLE,
    Challenge,
    ClassLimits,
    Classroom,
    Entry,
    Member,
    class_name_problems,
    clean_text,
    display_name_problems,
    hidden_problems,
    name_key,
    network_summary,
)
from nnlab.runs import Run, RunStore
from nnlab.runs.database import loads, row_to_run
from nnlab.runs.schema import class_members, class_runs, classes, runs
from nnlab.validation import InvalidSettings, Problem

CLASS_LOCK = 0x4E4E_4C10  # PostgreSQL advisory lock of the class slots (the run store's are 0x4E4E4C0x)
RESERVATION_SECONDS = 600  # a slot never attached to a run (a crash in between) stops counting after this
FINISHED = ("completed", "stopped")


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def _row_to_class(row: sa.Row) -> Classroom:
    v = row._mapping
    challenge, limits = loads(v["challenge"], {}), loads(v["limits"], {})
    return Classroom(
        id=v["id"],
        name=v["name"],
        created=v["created"],
        challenge=Challenge(
            **{k: challenge[k] for k in ("text", "max_params", "max_seconds") if k in challenge}
        ),
        limits=ClassLimits(**{k: limits[k] for k in ("max_epochs", "max_params", "max_runs") if k in limits}),
        hidden=frozenset(p for p in loads(v["hidden"], []) if p in HIDEABLE),
        start=v["start"],
    )


def _row_to_member(row: sa.Row) -> Member:
    v = row._mapping
    return Member(v["visitor"], v["class_id"], v["display_name"], v["joined"])


class ClassStore:
    """Classes, students and their runs, in the database of ``store``."""

    def __init__(self, store: RunStore):
        self.store = store
        self.db = store.db

    # -- the class ----------------------------------------------------------------------------------

    def create(self, name: str) -> tuple[Classroom, str]:
        """A new class and its teacher's secret (shown once; only its hash is stored)."""
        problems = class_name_problems(name)
        if problems:
            raise InvalidSettings(problems)
        secret = secrets.token_urlsafe(32)
        row = {
            "id": secrets.token_urlsafe(9),
            "name": clean_text(name, 80),
            "teacher_hash": secret_hash(secret),
            "created": time.time(),
        }
        with self.db.write() as con:
            con.execute(sa.insert(classes).values(**row))
        classroom = self.get(row["id"])
        assert classroom is not None
        return classroom, secret

    def get(self, class_id: Any) -> Classroom | None:
        if not isinstance(class_id, str) or not class_id or len(class_id) > 64:
            return None
        return self._one(classes.c.id == class_id)

    def for_teacher(self, secret: Any) -> Classroom | None:
        """The class whose teacher link holds ``secret``; None for any other text."""
        if not isinstance(secret, str) or not 20 <= len(secret) <= 200:
            return None
        return self._one(classes.c.teacher_hash == secret_hash(secret))

    def _one(self, where: Any) -> Classroom | None:
        with self.db.connect() as con:
            row = con.execute(sa.select(classes).where(where)).first()
        return _row_to_class(row) if row else None

    def _set(self, class_id: str, problems: list[Problem], **values: Any) -> Classroom:
        if problems:
            raise InvalidSettings(problems)
        with self.db.write() as con:
            con.execute(sa.update(classes).where(classes.c.id == class_id).values(**values))
        classroom = self.get(class_id)
        if classroom is None:
            raise InvalidSettings([Problem("This class no longer exists.")])
        return classroom

    def set_challenge(self, class_id: str, challenge: Challenge) -> Classroom:
        challenge = Challenge(clean_text(challenge.text, 201), challenge.max_params, challenge.max_seconds)
        value = json.dumps({"text": challenge.text, "max_params": challenge.max_params,
                            "max_seconds": challenge.max_seconds})  # fmt: skip
        return self._set(class_id, challenge.check(), challenge=value)

    def set_limits(self, class_id: str, limits: ClassLimits) -> Classroom:
        value = json.dumps({"max_epochs": limits.max_epochs, "max_params": limits.max_params,
                            "max_runs": limits.max_runs})  # fmt: skip
        return self._set(class_id, limits.check(), limits=value)

    def set_hidden(self, class_id: str, parts: Any) -> Classroom:
        parts = list(parts)
        return self._set(class_id, hidden_problems(parts), hidden=json.dumps(sorted(set(parts))))

    def set_start(self, class_id: str, code: str | None) -> Classroom:
        """The class's starting network: a ``sharing`` code (checked), or None for none."""
        from nnlab import sharing

        problems = []
        if code is not None:
            try:
                sharing.decode(code)
            except InvalidSettings as exc:
                problems = exc.problems
        return self._set(class_id, problems, start=code)

    # -- students ----------------------------------------------------------------------------------

    def join(self, class_id: str, visitor: str, display_name: str) -> Member:
        """Make ``visitor`` a student of the class as ``display_name``; ``InvalidSettings`` says why not."""
        classroom = self.get(class_id)
        if classroom is None:
            raise InvalidSettings(
                [Problem("This join link does not lead to a class (was it copied whole?).")]
            )
        problems = display_name_problems(display_name)
        if problems:
            raise InvalidSettings(problems)
        name = clean_text(display_name, 30)
        with self.db.write() as con:
            mine = con.execute(sa.select(class_members).where(class_members.c.visitor == visitor)).first()
            if mine is not None:
                return self._already(_row_to_member(mine), classroom)
            taken = sa.and_(class_members.c.class_id == class_id, class_members.c.name_key == name_key(name))
            if con.execute(sa.select(class_members.c.visitor).where(taken)).first() is not None:
                message = f"Someone in this class is already called {name!r}: choose another name."
                raise InvalidSettings([Problem(message, setting="display_name")])
            row = {"visitor": visitor, "class_id": class_id, "display_name": name,
                   "name_key": name_key(name), "joined": time.time()}  # fmt: skip
            con.execute(sa.insert(class_members).values(**row))
        return Member(visitor, class_id, name, row["joined"])

    def _already(self, member: Member, classroom: Classroom) -> Member:
        if member.class_id == classroom.id:
            return member  # joining twice changes nothing
        other = self.get(member.class_id)
        message = (
            f"You are already a student of the class {other.name if other else 'you joined before'!r}. "
            "To join another class, open its link in a new private window (a new visitor)."
        )
        raise InvalidSettings([Problem(message, setting="class")])

    def member(self, visitor: str | None) -> Member | None:
        """The class membership of ``visitor``, if any (one indexed read)."""
        if not visitor:
            return None
        with self.db.connect() as con:
            row = con.execute(sa.select(class_members).where(class_members.c.visitor == visitor)).first()
        return _row_to_member(row) if row else None

    def members(self, class_id: str) -> list[Member]:
        query = sa.select(class_members).where(class_members.c.class_id == class_id)
        with self.db.connect() as con:
            return [_row_to_member(r) for r in con.execute(query.order_by(class_members.c.joined))]

    # -- slots: a student's trainings in the class ---------------------------------------------------

    def reserve(self, member: Member, new: int, check) -> list[int]:
        """Take ``new`` slots for ``member`` if ``check(classroom, used)`` finds no problem.

        The count and the new slots are one transaction under the class lock. ``check`` returns
        ``validation.Problem``s; any of them: ``InvalidSettings`` and nothing is taken.
        """
        with self.db.write(lock=CLASS_LOCK) as con:
            row = con.execute(sa.select(classes).where(classes.c.id == member.class_id)).first()
            if row is None:
                raise InvalidSettings([Problem("Your class no longer exists.", setting="class")])
            problems = check(_row_to_class(row), self._used(con, member))
            if problems:
                raise InvalidSettings(problems)
            now = time.time()
            rows = [{"class_id": member.class_id, "visitor": member.visitor, "created": now}] * new
            return [int(con.execute(sa.insert(class_runs).values(**r)).inserted_primary_key[0]) for r in rows]

    def _used(self, con: sa.Connection, member: Member) -> int:
        """Trainings the student has started in the class: reserved, or run and not failed (a run
        stopped before it started, e.g. the rest of a stopped sweep, never trained: not counted)."""
        joined = class_runs.outerjoin(runs, runs.c.id == class_runs.c.run_id)
        fresh = time.time() - RESERVATION_SECONDS
        never_trained = sa.and_(runs.c.status == "stopped", runs.c.started.is_(None))
        counted = sa.or_(
            sa.and_(class_runs.c.run_id.is_(None), class_runs.c.created > fresh),
            sa.and_(
                class_runs.c.run_id.is_not(None),
                sa.or_(runs.c.id.is_(None), sa.and_(runs.c.status != "failed", sa.not_(never_trained))),
            ),
        )
        mine = sa.and_(class_runs.c.class_id == member.class_id, class_runs.c.visitor == member.visitor)
        return int(con.scalar(sa.select(sa.func.count()).select_from(joined).where(mine, counted)) or 0)

    def used(self, member: Member) -> int:
        with self.db.connect() as con:
            return self._used(con, member)

    def attach(self, slot: int, run_id: str) -> None:
        with self.db.write() as con:
            con.execute(sa.update(class_runs).where(class_runs.c.seq == slot).values(run_id=run_id))

    def detach(self, slot: int) -> None:
        """The slot's run was taken back (never trained): ``release`` frees the slot."""
        with self.db.write() as con:
            con.execute(sa.update(class_runs).where(class_runs.c.seq == slot).values(run_id=None))

    def release(self, slots: list[int]) -> None:
        if slots:
            with self.db.write() as con:
                con.execute(
                    sa.delete(class_runs).where(class_runs.c.seq.in_(slots), class_runs.c.run_id.is_(None))
                )

    # -- what the class sees -------------------------------------------------------------------------

    def trained_runs(self, class_id: str, statuses: tuple[str, ...] | None = None) -> list[tuple[str, Run]]:
        """Every run trained in the class, newest first, with its student's display name."""
        query = (
            sa.select(class_members.c.display_name, runs)
            .select_from(
                class_runs.join(runs, runs.c.id == class_runs.c.run_id).join(
                    class_members,
                    sa.and_(
                        class_members.c.visitor == class_runs.c.visitor,
                        class_members.c.class_id == class_runs.c.class_id,
                    ),
                )
            )  # fmt: skip
            .where(class_runs.c.class_id == class_id)
            .order_by(runs.c.seq.desc())
        )
        if statuses is not None:
            query = query.where(runs.c.status.in_(statuses))
        self.store.recover()  # a dead worker's run shows as failed, as on every other page
        with self.db.connect() as con:
            return [(row.display_name, row_to_run(row)) for row in con.execute(query)]

    def leaderboard(self, classroom: Classroom) -> list[Entry]:
        """The class's finished runs with a test accuracy: those that keep the challenge first, then by
        accuracy (higher first), then by parameters (fewer first)."""
        entries = [
            Entry(
                display_name=name,
                run_id=run.id,
                test_accuracy=run.test_accuracy,
                n_params=run.n_params,
                seconds=run.duration,
                network=network_summary(run.spec),
                status=run.status,
                meets=classroom.challenge.meets(run.n_params, run.duration),
            )
            for name, run in self.trained_runs(classroom.id, FINISHED)
            if run.test_accuracy is not None
        ]
        return sorted(entries, key=lambda e: (not e.meets, -e.test_accuracy, e.n_params))


def best_per_student(entries: list[Entry]) -> list[Entry]:
    """Each student's best entry, in the leaderboard's order."""
    seen: set[str] = set()
    return [e for e in entries if not (e.display_name in seen or seen.add(e.display_name))]
