"""azureml_user.parallel_run -- EntryScript, as ParallelRunStep entry scripts use it.

    from azureml_user.parallel_run import EntryScript
    logger = EntryScript().logger          # logs/user/<ip>/<node>.log.txt, tagged with the worker
    out = EntryScript().output_dir         # the job's OUT directory

EntryScript() is one object per process (each prs worker has its own process). The
logger's level is --logging-level; its records travel to prs as LOG frames
(core/prs_host.h), so they are tagged with the worker exactly. prs additions:
worker_id, mini_batch_id / attempt (of the batch run() is working on), and
fail_item(index, message), which records why item `index` of the current mini-batch
produced no row (shown in logs/user/error.txt; counts follow the returned rows).
"""
import logging
import os

_host = None
_conf = {}
_current = (0, 0, 0)


def _configure(host, conf):
    """Called by prs_host.py before the entry script is imported."""
    global _host, _conf
    _host = host
    _conf = conf


def _batch(batch_id, attempt, count):
    global _current
    _current = (batch_id, attempt, count)


class _PrsHandler(logging.Handler):
    def emit(self, record):
        try:
            message = self.format(record)
        except Exception:
            message = str(record.msg)
        if _host is not None:
            _host.log(record.levelno, message)


class EntryScript:
    _instance = None

    def __new__(cls):
        if cls._instance is None:
            self = super().__new__(cls)
            logger = logging.getLogger("azureml_user.parallel_run.entry_script")
            logger.setLevel(int(_conf.get("logging_level", logging.INFO)))
            logger.propagate = False
            handler = _PrsHandler()
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
            self._logger = logger
            cls._instance = self
        return cls._instance

    @property
    def logger(self):
        return self._logger

    @property
    def output_dir(self):
        return _conf.get("output_dir", os.getcwd())

    @property
    def worker_id(self):
        return int(_conf.get("worker", "0"))

    @property
    def mini_batch_id(self):
        return _current[0]

    @property
    def attempt(self):
        return _current[1]

    def fail_item(self, index, message):
        if not 0 <= index < _current[2]:
            raise IndexError("fail_item: index %d outside the mini-batch (%d items)"
                             % (index, _current[2]))
        _host.fail_item(index, message)
