"""prs_host.py -- prs's Python host: runs a ParallelRunStep entry script for one worker.

prs starts one of these per worker (`PYTHON prs_host.py`, pinned to the worker's CPU) and
drives it with the frames of core/prs_host.h over fds 3 (requests) and 4 (answers).
The entry script runs unchanged: init() once, run(mini_batch) per mini-batch, optional
shutdown(); `from azureml_user.parallel_run import EntryScript` gives its logger.

Only the standard library is imported up front: numpy/pandas cost time and memory and
are imported only when the job is tabular (pandas builds the DataFrame run() receives).
"""
import importlib.util
import io
import os
import signal
import struct
import sys
import threading
import traceback

HEAD = struct.Struct("<II")
U32 = struct.Struct("<I")
BATCH_HEAD = struct.Struct("<QII")
FRAME_MAX = 1 << 30

INIT, BATCH, SHUTDOWN = 1, 2, 3
READY, LOG, FAIL_ITEM, HEADER, ROWS, ERROR, BYE, ROWS_TEXT = 64, 65, 66, 67, 68, 69, 70, 71
(ERR_RUN, ERR_IMPORT, ERR_NO_RUN, ERR_INIT, ERR_MISSING, ERR_SHUTDOWN,
 ERR_PROTOCOL, ERR_MEMORY) = range(1, 9)

SEPARATORS = {"space": " ", "csv": ",", "tsv": "\t"}


class Channel:
    """The two protocol pipes, moved off fds 3 and 4 (close-on-exec), so that neither
    the script's own files nor its subprocesses can hold or reuse them."""

    def __init__(self):
        import fcntl

        rfd = fcntl.fcntl(3, fcntl.F_DUPFD_CLOEXEC, 100)
        wfd = fcntl.fcntl(4, fcntl.F_DUPFD_CLOEXEC, 100)
        os.close(3)
        os.close(4)
        self.inp = open(rfd, "rb", buffering=1 << 16)
        self.wfd = wfd
        self.lock = threading.Lock()  # the script's threads may log while run() answers

    def read(self):
        head = self.inp.read(HEAD.size)
        if len(head) < HEAD.size:
            return None, None  # prs is gone: end quietly
        kind, length = HEAD.unpack(head)
        if length > FRAME_MAX:
            raise ValueError("frame of %d bytes" % length)
        payload = self.inp.read(length) if length else b""
        if len(payload) < length:
            return None, None
        return kind, payload

    def send(self, kind, *parts):
        length = sum(len(p) for p in parts)
        data = memoryview(b"".join((HEAD.pack(kind, length),) + parts))
        with self.lock:
            while data:
                data = data[os.write(self.wfd, data):]

    def error(self, kind, message, tb=""):
        line = " ".join(message.split())[:900]  # one line: it groups error.txt
        self.send(ERROR, U32.pack(kind), (line + "\n" + tb).encode("utf-8", "replace"))


def exception_text(e):
    """'ValueError: bad input' (first line only) and the traceback without our frame."""
    first = str(e).strip().split("\n", 1)[0]
    name = type(e).__name__
    summary = "%s: %s" % (name, first) if first else name
    tb = e.__traceback__.tb_next if e.__traceback__ else None
    return summary, "".join(traceback.format_exception(type(e), e, tb))


class Host:
    def __init__(self, channel):
        self.ch = channel
        self.module = None
        self.run = None
        self.pd = None

    # ---- INIT -------------------------------------------------------------------------

    def init(self, payload):
        fields = payload.split(b"\0")
        cut = fields.index(b"--")
        conf = dict(f.decode().split("=", 1) for f in fields[:cut] if f)
        argv = [os.fsdecode(a) for a in fields[cut + 1:]]
        if argv and argv[-1] == "":
            argv.pop()
        self.conf = conf
        self.files = conf["input_format"] == "files"
        self.row_format = conf.get("row_format", "space")
        self.header_once = conf.get("dataframe_header") == "1"
        self.header_sent = False
        keys = conf.get("partition_keys")
        self.keys = keys.split(",") if keys else []
        script = conf["script"]
        sys.argv = argv
        from azureml_user import parallel_run

        parallel_run._configure(self, conf)
        script_dir = os.path.dirname(script)
        if script_dir not in sys.path:
            sys.path.insert(0, script_dir)
        if self.module is None and not self.load(conf, script, argv):
            return False
        if conf.get("check") == "1":
            self.ch.send(READY)  # prs may hand this host to worker 0: a second INIT follows
            return True
        init = getattr(self.module, "init", None)
        if callable(init):
            try:
                init()
            except BaseException as e:
                summary, tb = exception_text(e)
                self.ch.error(ERR_INIT, "init() raised %s" % summary, tb)
                return False
        self.ch.send(READY)
        return True

    def load(self, conf, script, argv):
        """Imports the entry script once (pandas first for a tabular job)."""
        if not self.files:
            try:
                import pandas

                self.pd = pandas
            except ImportError as e:
                self.ch.error(
                    ERR_MISSING,
                    "a tabular job (--input-format %s) hands run() a pandas DataFrame, and "
                    "%s cannot import pandas (%s): install python3-pandas (Debian) or pandas "
                    "into that interpreter's environment" % (conf["input_format"], sys.executable, e))
                return False
        name = os.path.splitext(os.path.basename(script))[0] or "entry_script"
        try:
            spec = importlib.util.spec_from_file_location(name, script)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except BaseException as e:
            summary, tb = exception_text(e)
            self.ch.error(ERR_IMPORT, "cannot import it: %s" % summary, tb)
            return False
        self.module = module
        self.run = getattr(module, "run", None)
        if not callable(self.run):
            self.ch.error(ERR_NO_RUN, "it defines no run(mini_batch) function")
            return False
        self.with_context = takes_two(self.run)
        return True

    # ---- BATCH ------------------------------------------------------------------------

    def key_values(self, payload):
        """The batch's partition_key_value dict (None for a key without a value) and where
        the items start; ({}, head) for a job without partition keys."""
        if not self.keys:
            return {}, BATCH_HEAD.size
        (missing,) = U32.unpack_from(payload, BATCH_HEAD.size)
        at = BATCH_HEAD.size + U32.size
        values = {}
        for i, key in enumerate(self.keys):
            end = payload.index(b"\0", at)
            value = payload[at:end].decode("utf-8", "surrogateescape")
            values[key] = None if missing & (1 << i) else value
            at = end + 1
        return values, at

    def mini_batch(self, payload, at, count):
        if self.files:
            paths = payload[at:].split(b"\0", count)[:count]
            return [os.fsdecode(p) for p in paths]
        (hlen,) = U32.unpack_from(payload, at)
        start = at + U32.size
        header = payload[start:start + hlen]
        body = payload[start + hlen:]
        fmt = self.conf["input_format"]
        pd = self.pd
        if fmt == "lines":
            lines = body.decode("utf-8", "replace").split("\n")[:count]
            return pd.DataFrame({"line": lines})
        if fmt == "jsonl":
            if count == 0:
                return pd.DataFrame()
            return pd.read_json(io.BytesIO(body), lines=True)
        return pd.read_csv(io.BytesIO(header + b"\n" + body), sep="," if fmt == "csv" else "\t")

    def frame_text(self, df):
        """The DataFrame's rows as text, one line each (or with newlines inside values)."""
        if self.row_format == "jsonl":
            text = df.to_json(orient="records", lines=True, double_precision=15)
            return text if not text or text.endswith("\n") else text + "\n"
        sep = SEPARATORS[self.row_format]
        if self.header_once and not self.header_sent:
            head = df.iloc[:0].to_csv(sep=sep, header=True, index=False, lineterminator="\n")
            self.ch.send(HEADER, head.rstrip("\n").encode("utf-8", "replace"))
            self.header_sent = True
        return df.to_csv(sep=sep, header=False, index=False, lineterminator="\n")

    def frame_rows(self, df, text):
        """One string per row, exactly, for a text whose values hold newlines."""
        if self.row_format == "jsonl":
            return text.split("\n")[:-1]  # to_json escapes newlines in values
        sep = SEPARATORS[self.row_format]
        return [df.iloc[[i]].to_csv(sep=sep, header=False, index=False,
                                    lineterminator="\n")[:-1] for i in range(len(df))]

    def result_rows(self, result):
        """(count, text) when the rows are newline-free lines of text, (rows, None) for a
        list of rows, or (None, why) for a result that fails the try."""
        if isinstance(result, (list, tuple)):
            rows = [str(r) for r in result]
            text = "\n".join(rows)
            if text.count("\n") == max(len(rows) - 1, 0):
                return len(rows), text + "\n" if rows else ""
            return rows, None
        pd = self.pd or sys.modules.get("pandas")
        if pd is not None and isinstance(result, pd.DataFrame):
            text = self.frame_text(result)
            if text.count("\n") == len(result):
                return len(result), text
            return self.frame_rows(result, text), None
        if result is None:
            return None, "run() returned None"
        return None, "run() returned a %s" % type(result).__name__

    def send_rows(self, rows, text):
        if text is not None:
            self.ch.send(ROWS_TEXT, U32.pack(rows), text.encode("utf-8", "surrogateescape"))
            return
        parts = [U32.pack(len(rows))]
        for r in rows:
            b = r.encode("utf-8", "surrogateescape")
            parts.append(U32.pack(len(b)))
            parts.append(b)
        self.ch.send(ROWS, b"".join(parts))

    def batch(self, payload):
        batch_id, attempt, count = BATCH_HEAD.unpack_from(payload, 0)
        from azureml_user import parallel_run

        parallel_run._batch(batch_id, attempt, count)
        try:
            keys, at = self.key_values(payload)
            mini_batch = self.mini_batch(payload, at, count)
        except Exception as e:
            summary, tb = exception_text(e)
            self.ch.error(ERR_RUN, "prs could not build run()'s input: %s" % summary, tb)
            return
        try:
            if self.with_context:
                result = self.run(mini_batch, MiniBatchContext(batch_id, keys))
            else:
                result = self.run(mini_batch)
        except SystemExit as e:
            flush_std()
            self.ch.error(ERR_RUN, "run() called sys.exit(%r)" % (e.code,))
            return
        except MemoryError as e:
            limit = int(self.conf.get("memory_limit", "0"))
            if not limit:
                raise
            flush_std()
            summary, tb = exception_text(e)
            self.ch.error(ERR_MEMORY, "run() passed --worker-memory-limit (%d MB of address "
                          "space): %s; the host is ended and a new one starts"
                          % (limit >> 20, summary), tb)
            os._exit(0)  # its memory goes back now
        except BaseException as e:
            flush_std()
            summary, tb = exception_text(e)
            self.ch.error(ERR_RUN, "run() raised %s" % summary, tb)
            return
        flush_std()
        try:
            rows, text = self.result_rows(result)
        except Exception as e:
            summary, tb = exception_text(e)
            self.ch.error(ERR_RUN, "prs could not turn run()'s result into rows: %s" % summary, tb)
            return
        if rows is None:
            self.ch.error(ERR_RUN, text + ": it must return a list, a tuple or a pandas "
                          "DataFrame (one element or row per succeeded item); the batch fails "
                          "this try")
            return
        self.send_rows(rows, text)

    def shutdown(self):
        fn = getattr(self.module, "shutdown", None) if self.module else None
        if callable(fn):
            try:
                fn()
            except BaseException as e:
                flush_std()
                summary, tb = exception_text(e)
                self.ch.error(ERR_SHUTDOWN, "shutdown() raised %s" % summary, tb)
                return
        flush_std()
        self.ch.send(BYE)

    def fail_item(self, index, message):
        self.ch.send(FAIL_ITEM, U32.pack(index), str(message).encode("utf-8", "replace"))

    def log(self, level, message):
        self.ch.send(LOG, U32.pack(level), message.encode("utf-8", "replace"))


class MiniBatchContext:
    """run()'s second argument, as ParallelRunStep passes it to a run that takes two:
    partition_key_value maps each partition key to this batch's value (a str; None when
    its records have none; {} without partition keys); minibatch_index is the batch id."""

    def __init__(self, batch_id, keys):
        self.partition_key_value = keys
        self.minibatch_index = batch_id

    def __repr__(self):
        return "MiniBatchContext(minibatch_index=%d, partition_key_value=%r)" % (
            self.minibatch_index, self.partition_key_value)


def takes_two(fn):
    """Whether run accepts (mini_batch, mini_batch_context), as Azure decides it: by its
    signature; one it cannot inspect (a builtin) gets one argument."""
    import inspect

    try:
        inspect.signature(fn).bind(None, None)
    except (TypeError, ValueError):
        return False
    return True


def flush_std():
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass


def die_with_parent():
    """The kernel kills this process when the prs worker thread that started it ends
    (PR_SET_PDEATHSIG); a parent already gone means exit now."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    parent = os.environ.get("PRS_HOST_PARENT")
    if parent and os.getppid() != int(parent):
        os._exit(1)


def main():
    die_with_parent()
    # prs decides about stops: a Ctrl-C reaches the whole process group, and must not
    # fail the running batch (prs lets it finish).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import faulthandler

    faulthandler.enable()  # a crash in a C extension leaves its Python stack on stderr
    for f in (sys.stdout, sys.stderr):
        try:
            f.reconfigure(line_buffering=True)
        except Exception:
            pass
    ch = Channel()
    host = Host(ch)
    kind, payload = ch.read()
    if kind != INIT:
        return 0
    if not host.init(payload):
        flush_std()
        return 0
    while True:
        kind, payload = ch.read()
        if kind is None:
            return 0
        if kind == BATCH:
            host.batch(payload)
        elif kind == INIT:  # after the job-start check: init() now, for worker 0
            if not host.init(payload):
                flush_std()
                return 0
        elif kind == SHUTDOWN:
            host.shutdown()
            # Without the interpreter's teardown (seconds, with pandas loaded): atexit
            # handlers still run, the streams are flushed.
            import atexit

            atexit._run_exitfuncs()
            flush_std()
            os._exit(0)
        else:
            ch.error(ERR_PROTOCOL, "prs_host.py: unexpected frame type %d" % kind)


if __name__ == "__main__":
    sys.exit(main())
