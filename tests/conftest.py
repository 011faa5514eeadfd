"""Shared fixtures. Every test gets its own run store (NNLAB_HOME) so nothing leaks between tests.

``backend`` runs a test once per database the run store supports: ``sqlite`` (the embedded
default) and ``postgresql`` (marked ``distributed``): a real PostgreSQL server that the session starts
itself (``tests/servers.py``), with a fresh database for each test, named by ``NNLAB_DATABASE_URL``
so that the test's subprocesses (workers, dispatchers) use it too.

``tiny_mlp`` (session) is one small MLP trained in this process for the tests that only read a
trained network (test_evaluation, test_eval_pages, test_teach): ``(preset name, TrainConfig, TrainResult)``.

Streamlit's AppTest looks for installed components (it reads every installed package's metadata)
for each new ``AppTest``; a server does it once when it starts. The installed packages do not change
during the tests, so ``_components_scanned_once`` (session, automatic) makes it once for the session.

After every script run Streamlit clears Keras's session, which runs Python's full garbage collection:
in this process, which holds TensorFlow, the test machinery and every module imported so far, that
took 0.3 s a run, more than most pages themselves. ``_long_lived_objects_frozen`` (each module,
automatic) collects once and moves what is still alive then (imported modules, session fixtures,
caches) out of the collector's sight (``gc.freeze``), so that the collections between runs look at
what the tests make. A frozen object is still freed when its last reference goes; only a reference
cycle among frozen objects stays in memory.
"""

from __future__ import annotations

import gc
import os

import pytest
from servers import PostgresServer, ServerUnavailable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.pop("NNLAB_DATABASE_URL", None)  # a developer's own database never serves the tests
# No warm spare workers (a TensorFlow process each) unless a test asks for them (tests/test_warm.py).
os.environ["NNLAB_WARM_WORKERS"] = "0"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.distributed)]


@pytest.fixture(autouse=True, scope="module")
def _long_lived_objects_frozen():
    gc.collect()  # the previous module's fixtures are gone by now: only what lives on is frozen
    gc.freeze()


@pytest.fixture(autouse=True, scope="session")
def _components_scanned_once():
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    found = scan()
    manifest_scanner.scan_component_manifests = lambda *args, **kwargs: list(found)
    yield
    manifest_scanner.scan_component_manifests = scan


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("nnlab_home")
    monkeypatch.setenv("NNLAB_HOME", str(home))
    yield home
    from nnlab.dispatcher import stop_all
    from nnlab.runs.database import dispose_engines

    stop_all()  # a page the test opened started the server's background dispatcher on this store

    dispose_engines()  # the test's pooled connections (each test has a database of its own)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the whole session; its absence is a failure, never a skip."""
    try:
        server = PostgresServer.start()
    except ServerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_mlp():
    """MLP 784-128-10 trained for one epoch on 1,000 images: good enough to make real, varied mistakes.
    Shared read-only: a test may store it in its own run store, never change it."""
    from nnlab.architectures import get_preset
    from nnlab.training import TrainConfig, train

    preset = "MLP 784-128-10"
    config = TrainConfig(epochs=1, subset=1000, batch_size=64, validation_fraction=0.1, seed=1)
    return preset, config, train(get_preset(preset), config)


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """``"sqlite"`` or ``"postgresql"``: the database every ``RunStore()`` of the test opens."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    from nnlab.runs.database import dispose_engines

    server = request.getfixturevalue("postgres")
    url = server.create_database()
    monkeypatch.setenv("NNLAB_DATABASE_URL", url)
    yield "postgresql"
    dispose_engines()
    server.drop_database(url)
