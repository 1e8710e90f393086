"""The signing worker pool: processes that make the signatures of a big batch while the
parent builds the rest. Its one user is :func:`myna.pki.signer.submit_tbs`, which falls
back to signing in the calling thread whenever the pool cannot help.

cryptography holds the GIL while it signs, so threads do not sign in parallel. For big
batches the parent builds every TBS (cheap: written from a per-CA template, see
myna.pki.holder_tbs) and worker processes make the signatures. The work is sent in slices as soon as their
TBS exist, so the workers sign while the parent builds the rest of the chunk (and, in
the batch paths, records the previous chunk and prepares the next): the caller gets a
SigningJob (myna.pki.signer) back at once and collects the certificates when it needs
them.

Why not concurrent.futures.ProcessPoolExecutor (measured): its results and its queue
feeding go through helper threads in the parent, which need the GIL; while the parent
is busy building and recording, they get it once per switch interval (5 ms), the
workers run dry and the overlap is lost (52 % of raw signing against 68 % without
overlap). Here the parent talks to each worker over a pair of plain pipes, from the
calling thread only, with non-blocking writes and 1 MiB pipe buffers: a slice is in the
worker's pipe the moment it is submitted, and signatures wait in the other pipe until
the parent collects them. No helper thread, no pickling.

One pool per process, started on first use and shut down at exit. A PKCS#11 key does
not leave its token: a worker is told where the key is (module, token, PIN, CKA_ID),
opens its own session and logs in itself, and the token signs. A token serves several
sessions at once (SoftHSM2 in software, HSMs in hardware), while in the parent a token
key can only be used one operation at a time per module, and a signing thread there
would wait for the GIL behind the parent's own work after every signature.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import json
import os
import select
import struct
import threading
import time
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from myna.pki.keys import KeyNotFound, SigningKey

SLICE = 32  # TBS per message to a worker: starts the workers early, amortises the system calls
_PIPE_SIZE = 1 << 20  # Linux's default pipe-max-size for unprivileged processes
_HEADER = struct.Struct(">cI")  # message type, body length
_ITEM = struct.Struct(">I")  # length of one TBS or signature inside a body
_TASK = struct.Struct(">Q")  # task number at the start of a sign request and of its reply


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def resolve_processes(configured: int | None) -> int:
    """Worker processes to sign with: ``configured`` (MYNA_SIGNING_PROCESSES) if set, else
    one per usable core when there are at least two. Below 2 means "in the calling thread":
    one worker would only move the signing elsewhere while the parent waits."""
    if configured is not None:
        return max(0, configured)
    cores = usable_cores()
    return cores if cores >= 2 else 0


def _pack(items: Sequence[bytes]) -> bytes:
    return b"".join(_ITEM.pack(len(x)) + x for x in items)


def _unpack(body: bytes | memoryview, start: int) -> list[bytes]:
    out, i, n = [], start, len(body)
    while i < n:
        (size,) = _ITEM.unpack_from(body, i)
        out.append(bytes(body[i + 4 : i + 4 + size]))
        i += 4 + size
    return out


WORKER_NICE = 5  # how much lower than the platform's own threads the workers run


def _lower_priority() -> None:
    """Run this worker below the parent. The parent's share (checks, TBS, the store) is the
    serial part of a batch: with equal priority, two busy workers and the parent split two
    cores three ways, the parent gets two thirds of one and the workers run dry waiting for
    it (bench/issuance.py measured the difference). Lower-priority workers take what the
    parent leaves; the platform's HTTP threads, which share the parent's process, also
    keep answering during a big batch. Raising a nice value needs no privilege."""
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):  # not on a Unix, or refused: equal priority then
        pass


def _token_key(spec: dict, tokens: dict):
    """In a worker: the ``sign`` of a PKCS#11 key, through this worker's own session and
    login on the token; the error instead if the key cannot be reached (every slice for
    it is then answered with that error, and the parent signs those slices itself)."""
    try:
        from myna.pki.holder_keys import spki_der
        from myna.pki.keystore_pkcs11 import Pkcs11KeyBackend

        # PKCS#11 modules read their configuration from the environment at C_Initialize;
        # the worker was forked from a server started earlier, with the environment of then.
        os.environ.update(spec["env"])
        where = (spec["module"], spec["token"])
        backend = tokens.get(where)
        if backend is None:
            backend = tokens[where] = Pkcs11KeyBackend(spec["module"], spec["token"], spec["pin"])
        key = backend.load(spec["ref"])
        if spki_der(key.public_key()).hex() != spec["spki"]:
            raise KeyNotFound(f"the key {spec['ref']} this worker reached on {spec['token']!r} is not the parent's")
        return key.sign
    except Exception as exc:
        return exc


def _worker_main(tasks, results) -> None:
    """A signing worker: reads K (key number + key, PKCS#8 DER), P (key number + where a
    token key is, JSON) and S (task number + key number + TBS list) messages, answers each
    S with R (task number + signatures) or E (task number + error text). Ends
    at end of input, i.e. when the parent closes its end or dies."""
    import io
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C is the parent's to handle
    _lower_priority()
    reader = io.open(tasks.fileno(), "rb", closefd=False)
    out = results.fileno()
    keys: dict[int, object] = {}  # loading an RSA key checks it: milliseconds, so once per key
    tokens: dict[tuple[str, str], object] = {}  # (module, token label) -> this worker's backend
    while True:
        header = reader.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        kind, size = _HEADER.unpack(header)
        body = reader.read(size)
        if len(body) < size:
            return
        if kind == b"K":
            (number,) = _TASK.unpack_from(body)
            key = serialization.load_der_private_key(body[_TASK.size :], password=None)
            if isinstance(key, rsa.RSAPrivateKey):
                keys[number] = functools.partial(key.sign, padding=padding.PKCS1v15(), algorithm=hashes.SHA256())
            else:
                keys[number] = functools.partial(key.sign, signature_algorithm=ec.ECDSA(hashes.SHA256()))
        elif kind == b"P":
            (number,) = _TASK.unpack_from(body)
            keys[number] = _token_key(json.loads(bytes(body[_TASK.size :])), tokens)
        elif kind == b"S":
            (number,) = _TASK.unpack_from(body, _TASK.size)
            try:
                sign = keys[number]
                if isinstance(sign, BaseException):
                    raise sign
                reply, kind = body[: _TASK.size] + _pack([sign(t) for t in _unpack(body, 2 * _TASK.size)]), b"R"
            except Exception as exc:  # the token refused, or its key could not be reached
                reply, kind = body[: _TASK.size] + f"{type(exc).__name__}: {exc}".encode(), b"E"
            data = memoryview(_HEADER.pack(kind, len(reply)) + reply)
            try:
                while data:
                    data = data[os.write(out, data) :]
            except BrokenPipeError:  # the parent closed the pool: nobody wants these
                return


class _Worker:
    def __init__(self, ctx) -> None:
        task_r, task_w = ctx.Pipe(duplex=False)
        result_r, result_w = ctx.Pipe(duplex=False)
        for conn in (task_w, result_r):
            try:  # a bigger buffer: a whole chunk fits, and the worker never waits for us
                fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
            except (AttributeError, OSError):
                pass
        self.process = ctx.Process(target=_worker_main, args=(task_r, result_w), daemon=True, name="myna-signer")
        self.process.start()
        task_r.close()  # the worker has its own copies now; ours would hide its exit
        result_w.close()
        self._task_conn, self._result_conn = task_w, result_r  # keep the fds open
        self.wfd, self.rfd = task_w.fileno(), result_r.fileno()
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        self.outbuf = bytearray()
        self.inbuf = bytearray()
        self.keys: set[int] = set()  # key numbers this worker has loaded
        self.queued = 0  # signatures asked for and not yet received
        self.dead = False

    def close(self) -> None:
        self._task_conn.close()
        self._result_conn.close()


class Pool:
    """Signing worker processes, driven from the calling thread (see above)."""

    def __init__(self, processes: int) -> None:
        import multiprocessing

        # forkserver: the platform process runs threads (uvicorn, sync loops), and forking
        # a threaded process is unsafe. The server preloads this module, so each worker
        # starts with cryptography already imported.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["myna.pki.signing_pool"])
        self.size = processes
        self.pid = os.getpid()
        self.lock = threading.RLock()
        self.workers = [_Worker(ctx) for _ in range(processes)]
        self.next_task = 0
        self.key_numbers: dict[tuple[bytes, bytes], int] = {}
        self.replies: dict[int, list[bytes] | str] = {}  # signatures, or the worker's error text
        self.sizes: dict[int, int] = {}  # task -> TBS sent, until its reply comes
        self.owner: dict[int, _Worker] = {}
        self.closed = False

    def submit(self, key: tuple[bytes, bytes], tbs: list[bytes]) -> int:
        with self.lock:
            self._pump(0)  # notices a worker that died since
            live = [w for w in self.workers if not w.dead]
            if self.closed or not live:
                raise BrokenPipeError("no signing worker left")
            w = min(live, key=lambda w: w.queued)
            task = self.next_task = self.next_task + 1
            body = _TASK.pack(task) + self._key(w, key) + _pack(tbs)
            w.outbuf += _HEADER.pack(b"S", len(body)) + body
            w.queued += len(tbs)
            self.sizes[task] = len(tbs)
            self.owner[task] = w
            self._pump(0)
            return task

    def _key(self, w: _Worker, key: tuple[bytes, bytes]) -> bytes:
        """The key's number, packed; sends the key (``(b"K", PKCS#8 DER)``, or ``(b"P",
        where a token key is)``) to ``w`` first if it does not have it."""
        number = self.key_numbers.setdefault(key, len(self.key_numbers) + 1)
        packed = _TASK.pack(number)
        if number not in w.keys:
            kind, payload = key
            w.outbuf += _HEADER.pack(kind, len(packed) + len(payload)) + packed + payload
            w.keys.add(number)
        return packed

    def collect(self, task: int) -> list[bytes]:
        """The signatures of ``task``; raises BrokenPipeError if its worker died."""
        with self.lock:
            while task not in self.replies:
                w = self.owner[task]
                if self.closed or w.dead:
                    del self.owner[task]
                    raise BrokenPipeError("a signing worker died")
                self._pump(0.5)
                if task not in self.replies and not w.process.is_alive():
                    self._pump(0)  # what it wrote before it died
                    w.dead = True
            del self.owner[task]
            reply = self.replies.pop(task)
            if isinstance(reply, str):
                raise WorkerRefused(reply)
            return reply

    def forget(self, task: int) -> None:
        with self.lock:
            self.replies.pop(task, None)
            self.owner.pop(task, None)

    def _pump(self, timeout: float) -> None:
        """Write what is pending, read what has arrived; wait up to ``timeout`` seconds
        for something to happen."""
        poller = select.poll()
        fds = {}
        for w in self.workers:
            if w.dead:
                continue
            poller.register(w.rfd, select.POLLIN | (select.POLLOUT if w.outbuf else 0))
            fds[w.rfd] = w
            if w.outbuf:
                poller.register(w.wfd, select.POLLOUT)
                fds[w.wfd] = w
        for fd, _events in poller.poll(timeout * 1000):
            w = fds[fd]
            if w.dead:
                continue
            try:
                if fd == w.wfd:
                    sent = os.write(w.wfd, w.outbuf)
                    del w.outbuf[:sent]
                else:
                    chunk = os.read(w.rfd, _PIPE_SIZE)
                    if not chunk:
                        raise BrokenPipeError
                    w.inbuf += chunk
                    self._parse(w)
            except BlockingIOError:
                pass
            except OSError:  # EPIPE, EOF: the worker is gone
                w.dead = True

    def _parse(self, w: _Worker) -> None:
        buf, i = w.inbuf, 0
        while len(buf) - i >= _HEADER.size:
            kind, size = _HEADER.unpack_from(buf, i)
            if len(buf) - i - _HEADER.size < size:
                break
            body = memoryview(buf)[i + _HEADER.size : i + _HEADER.size + size]
            (task,) = _TASK.unpack_from(body)
            if kind == b"E":  # the worker could not sign this slice: its error text
                reply: list[bytes] | str = bytes(body[_TASK.size :]).decode(errors="replace")
            else:
                reply = _unpack(body, _TASK.size)
            body.release()
            w.queued -= self.sizes.pop(task, 0)
            if task in self.owner:  # else forgotten (cancelled)
                self.replies[task] = reply
            i += _HEADER.size + size
        del buf[:i]

    def close(self) -> None:
        """Stop the workers. Jobs still waiting on this pool sign their slices in the
        calling thread instead (collect raises BrokenPipeError)."""
        with self.lock:
            self.closed = True
            for w in self.workers:
                w.dead = True  # never poll these fds again: their numbers will be reused
                w.close()  # end of input: the worker returns
        for w in self.workers:
            w.process.join(timeout=5)
            if w.process.is_alive():
                w.process.terminate()


_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()
_ATEXIT = False
_REPLACED = 0  # pools replaced because a worker died
MAX_REPLACED = 3  # then this process signs in the calling thread (workers keep dying: no point)


def signing_pool(processes: int) -> Pool:
    """The worker pool (started on first call; a new one if ``processes`` changed or this
    is a forked child, which cannot use its parent's workers)."""
    global _POOL, _ATEXIT, _REPLACED
    with _POOL_LOCK:
        pool = _POOL
        # A worker that died (OOM killer, a signal) is not replaced alone: its tasks fall back
        # to the calling thread (SigningJob.result) and the next batch gets a fresh pool.
        if (
            pool is None
            or pool.size != processes
            or pool.pid != os.getpid()
            or any(w.dead or not w.process.is_alive() for w in pool.workers)
        ):
            if pool is not None and pool.pid == os.getpid():
                if any(w.dead or not w.process.is_alive() for w in pool.workers):
                    _REPLACED += 1
                pool.close()
            if _REPLACED > MAX_REPLACED:
                raise BrokenPipeError("signing workers keep dying")
            pool = _POOL = Pool(processes)
            if not _ATEXIT:
                atexit.register(shutdown_pool)
                _ATEXIT = True
        return pool


@functools.cache
def _ready_key() -> bytes:
    """The key of start_pool's one small task: any key will do, and a P-256 key is made in
    microseconds. Its signature is thrown away."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def start_pool(processes: int) -> float:
    """Start the workers now instead of on the first big batch, and wait until each has
    answered; returns the seconds it took. For the benchmark and long-running services."""
    t0 = time.perf_counter()
    pool = signing_pool(processes)
    with pool.lock:
        tasks = []
        for w in pool.workers:  # one small task on each worker, not on the least busy
            pool.next_task += 1
            body = _TASK.pack(pool.next_task) + pool._key(w, (b"K", _ready_key())) + _pack([b"ready"])
            w.outbuf += _HEADER.pack(b"S", len(body)) + body
            w.queued += 1
            pool.sizes[pool.next_task] = 1
            pool.owner[pool.next_task] = w
            tasks.append(pool.next_task)
        for task in tasks:
            pool.collect(task)
    return time.perf_counter() - t0


def shutdown_pool() -> None:
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None and pool.pid == os.getpid():
        pool.close()


class WorkerRefused(Exception):
    """A worker answered a slice with an error instead of signatures."""


def worker_key(key: SigningKey) -> tuple[bytes, bytes] | None:
    """What a worker needs to sign with ``key``: a file key's PKCS#8 DER, or where a token
    key is; None for a key no worker can use."""
    direct = getattr(key, "_cryptography_key", None)
    if direct is not None:
        return b"K", direct().private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    where = getattr(key, "worker_spec", None)
    if where is not None:
        return b"P", json.dumps(where(), sort_keys=True).encode()
    return None
