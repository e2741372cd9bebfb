"""Starts moto's server with its SQS backend made safe and fast under
concurrent calls.

moto's server answers each request in its own thread, but moto 5.1.1's SQS
backend has no lock around a queue's messages, and its FIFO paths are
quadratic. Both showed in refarch's soak, where pelican and two emus call one
FIFO queue at once:

- A DeleteMessage that runs while another call receives the same message
  (its visibility had expired) can leave that message marked "in flight"
  after it is gone. Its message group then stays blocked for good: the
  product's later messages are visible but never delivered. Concurrent
  deletes can also resurrect each other's messages.
- A long poll on a FIFO queue whose visible messages all belong to groups in
  flight rescans the whole queue without pause until its wait ends, holding
  Python's interpreter lock: every other call takes seconds.
- Each message sent rebuilds all the queue's attributes six times, counting
  every message of the queue each time; a batch of 10 into a queue of 1,000
  messages took seconds.

So here every call of the SQS backend runs under one lock; a long poll is a
series of receives that do not wait, at most every 100 ms, sleeping outside
the lock (woken early by any change to a queue); a queue's attributes are
built once per call; and the clock is read with time.time(). Answers are the
same as moto's, a long poll's up to 100 ms later; real SQS has none of these
defects.

Usage: python3 moto_server.py [moto.server arguments]
"""

import functools
import sys
import threading
import time

from moto.server import main
from moto.sqs import models

_lock = threading.RLock()
_changed = threading.Condition(_lock)
_calls = threading.local()  # depth: nesting of backend calls in this thread
_attrs = {}  # queue attributes built during the current backend call

_MUTATING = {"send_message", "send_message_batch", "delete_message", "delete_message_batch",
             "change_message_visibility", "change_message_visibility_batch", "purge_queue"}


def _locked(name, method):
    @functools.wraps(method)
    def call(*args, **kwargs):
        with _lock:
            depth = getattr(_calls, "depth", 0)
            if depth == 0:
                _attrs.clear()
            _calls.depth = depth + 1
            try:
                return method(*args, **kwargs)
            finally:
                _calls.depth = depth
                if depth == 0 and name in _MUTATING:
                    _changed.notify_all()

    return call


for _name, _method in list(vars(models.SQSBackend).items()):
    if callable(_method) and not _name.startswith("__"):
        setattr(models.SQSBackend, _name, _locked(_name, _method))

_receive = models.SQSBackend.receive_message


@functools.wraps(_receive)
def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout, *args, **kwargs):
    end = time.monotonic() + (wait_seconds_timeout or 0)
    while True:
        scanned = time.monotonic()
        got = _receive(self, queue_name, count, 0, visibility_timeout, *args, **kwargs)
        if got or scanned >= end:
            return got
        with _lock:
            _changed.wait(timeout=max(0, min(0.25, end - time.monotonic())))
        time.sleep(max(0, min(scanned + 0.1, end) - time.monotonic()))


models.SQSBackend.receive_message = receive_message

_build_attributes = models.Queue.attributes.fget


def _attributes(self):
    if getattr(_calls, "depth", 0) == 0:
        return _build_attributes(self)
    if id(self) not in _attrs:
        _attrs[id(self)] = _build_attributes(self)
    return dict(_attrs[id(self)])


models.Queue.attributes = property(_attributes)
models.unix_time_millis = lambda: time.time() * 1000
models.camelcase_to_underscores = functools.lru_cache(maxsize=None)(models.camelcase_to_underscores)

if __name__ == "__main__":
    main(sys.argv[1:])
