"""Loaded at start-up by every Python process that has bench/sqltrace on its PYTHONPATH
(bench/diagnose.py puts it there for the server it starts): when HOCTAP_BENCH_SQLTRACE names a
folder, every SQLAlchemy engine of the process records, per statement text, how many times it
ran and the wall time from before to after cursor execution (round trip to PostgreSQL included),
and writes the totals to <folder>/<pid>.json every two seconds. Nothing of the app is changed."""

import os

_folder = os.environ.get("HOCTAP_BENCH_SQLTRACE")
if _folder:
    import atexit
    import contextlib
    import json
    import threading
    import time

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _stats: dict[str, list[float]] = {}
    _lock = threading.Lock()
    _local = threading.local()

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        _local.started = time.perf_counter()

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        elapsed = time.perf_counter() - getattr(_local, "started", time.perf_counter())
        key = " ".join(statement.split())[:400]
        with _lock:
            entry = _stats.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] += elapsed

    def _dump() -> None:
        with _lock:
            data = {key: list(value) for key, value in _stats.items()}
        path = os.path.join(_folder, f"{os.getpid()}.json")
        with open(path + ".tmp", "w") as handle:
            json.dump(data, handle)
        os.replace(path + ".tmp", path)

    def _loop() -> None:
        while True:
            time.sleep(2)
            with contextlib.suppress(OSError):
                _dump()

    os.makedirs(_folder, exist_ok=True)
    threading.Thread(target=_loop, daemon=True, name="sqltrace").start()
    atexit.register(_dump)
