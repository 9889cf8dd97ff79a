"""What a DataLoader worker does, run in this process (the worker tests in test_loader.py run it in
child processes, where neither coverage nor a mutation tool sees it), the rows a data-parallel rank
serves, and the arrays a worker sends back. Outcomes are the messages on the result queue and
rows/weights worked out by hand."""

import pickle
import queue
import random
import signal
from collections import namedtuple

import numpy as np
import pytest

import convlab
from convlab import random as cl_random
from convlab.data import ArrayDataset, DataLoader, workers
from convlab.data.collate import _TensorArray, to_arrays


class _Results(queue.Queue):
    """The worker's result queue (a multiprocessing queue has cancel_join_thread; this one records it)."""

    cancelled = 0

    def cancel_join_thread(self):
        self.cancelled += 1


def _drain(q):
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


@pytest.fixture
def in_process(monkeypatch):
    """Run ``_worker_loop`` here; restore what it changes for the process (Ctrl-C, seeds, worker info)."""
    monkeypatch.setattr(workers, "_info", None)
    monkeypatch.setattr(workers, "_POLL_S", 0.01)
    old_sigint, py_state, cl_state = signal.getsignal(signal.SIGINT), random.getstate(), cl_random.get_rng_state()

    def run(fetch, tasks, *, worker_id=1, num_workers=3, seed=2**63 + 5, dataset="ds", init_fn=None, results=None,
            parent=None, iterable=False):
        q = queue.Queue()
        for t in tasks:
            q.put(t)
        results = results if results is not None else _Results()
        workers._worker_loop(fetch, worker_id, num_workers, seed, dataset, init_fn, q, results,
                             __import__("os").getppid() if parent is None else parent, iterable)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # Ctrl-C is the main process's
        return results, q

    yield run
    signal.signal(signal.SIGINT, old_sigint)
    random.setstate(py_state)
    cl_random.set_rng_state(cl_state)


def test_a_worker_serves_batches_reports_errors_and_stops_at_none(in_process):
    seen = []

    def fetch(epoch, batch, indices):
        if indices == "boom":
            raise KeyError("no such item")
        seen.append((workers.get_worker_info(), random.random(), convlab.rand(2).numpy().tolist()))
        return convlab.tensor(np.asarray(indices) * 10), np.asarray(indices)

    results, tasks = in_process(fetch, [(0, 0, [1, 2]), (0, 1, "boom"), (0, 2, [3]), None, (0, 3, [4])])
    msgs = _drain(results)
    assert [m[0] for m in msgs] == ["ok", "error", "ok"]
    images, labels = msgs[0][1]
    assert type(images) is _TensorArray and images.tolist() == [10, 20]  # a Tensor travels as a marked array
    assert type(labels) is np.ndarray and labels.tolist() == [1, 2]
    (module, name), text = msgs[1][1]
    assert (module, name) == ("builtins", "KeyError")
    assert text.startswith("Traceback (most recent call last)") and "KeyError: 'no such item'" in text
    assert msgs[2][1][0].tolist() == [30]
    assert tasks.qsize() == 1 and results.cancelled == 1  # stopped at None; never blocks at exit
    info = seen[0][0]
    assert (info.id, info.num_workers, info.seed, info.dataset) == (1, 3, 2**63 + 5, "ds")
    assert seen[0][1] == random.Random(2**63 + 5).random()  # Python's generator seeded with the worker seed
    convlab.manual_seed(5)  # the library's with the seed modulo 2**63
    assert seen[0][2] == convlab.rand(2).numpy().tolist()


def test_worker_init_fn_runs_first_and_its_failure_is_reported(in_process):
    calls = []
    results, _ = in_process(lambda *t: calls.append(("fetch", t)) or 0, [(0, 0, [0]), None],
                            init_fn=lambda wid: calls.append(("init", wid)), worker_id=2)
    assert calls[0] == ("init", 2) and calls[1] == ("fetch", (0, 0, [0]))
    assert [m[0] for m in _drain(results)] == ["ok"]

    def bad_init(wid):
        raise RuntimeError(f"init of worker {wid} failed")

    results, tasks = in_process(lambda *t: 0, [(0, 0, [0]), None], init_fn=bad_init, worker_id=2)
    (kind, ((module, name), text)), = _drain(results)
    assert (kind, module, name) == ("error", "builtins", "RuntimeError") and "init of worker 2 failed" in text
    assert tasks.qsize() == 2 and results.cancelled == 1  # nothing served after a failed start


def test_an_iterable_worker_reads_its_own_stream_and_says_when_it_is_done(in_process):
    def fetch(stream, n):
        items = [x for _, x in zip(range(n), stream)]
        if not items:
            raise StopIteration
        return items

    results, _ = in_process(fetch, [2, 2, 2, 2, None], dataset=[5, 6, 7], iterable=True)
    assert _drain(results) == [("ok", [5, 6]), ("ok", [7]), ("done", None), ("done", None)]


def test_a_worker_whose_parent_is_gone_leaves(in_process):
    results, tasks = in_process(lambda *t: 0, [], parent=-1)  # nothing to do, and the parent gone: it ends
    assert results.empty() and results.cancelled == 1
    full = _Results(maxsize=1)
    full.put("unread")
    results, tasks = in_process(lambda *t: 0, [(0, 0, [0]), (0, 1, [1]), None], results=full, parent=-1)
    assert _drain(results) == ["unread"] and tasks.qsize() == 2  # nobody reads the results: it ends
    full = _Results(maxsize=1)
    full.put("unread")
    results, tasks = in_process(lambda *t: 1 / 0, [(0, 0, [0]), (0, 1, [1]), None], results=full, parent=-1)
    assert _drain(results) == ["unread"] and tasks.qsize() == 2  # nor the errors


@pytest.mark.parametrize("module, name, expect", [
    ("builtins", "KeyError", KeyError), ("convlab.validate", "ConvlabError", convlab.validate.ConvlabError),
    ("builtins", "print", RuntimeError), ("no.such.module", "X", RuntimeError), ("builtins", "NoSuchError", RuntimeError),
    ("builtins", "KeyboardInterrupt", RuntimeError),  # not an Exception: never raised as itself
])
def test_a_workers_exception_type_is_looked_up_by_name(module, name, expect):
    assert workers._exception_type(module, name) is expect


# ---- the rows of a data-parallel rank

def _loader(n=12, **kw):
    images = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)
    return DataLoader(ArrayDataset(images, np.arange(n)), batch_size=5, shuffle=False, seed=0, prefetch=0, **kw)


@pytest.mark.parametrize("rank, batch, rows, n, weight", [
    (0, 0, [0, 3], 5, 2 * 3 / 5), (1, 0, [1, 4], 5, 2 * 3 / 5), (2, 0, [2], 5, 1 * 3 / 5),
    (0, 2, [0], 2, 1 * 3 / 2), (1, 2, [1], 2, 1 * 3 / 2),
    (2, 2, [0], 2, 0.0),  # the last batch has 2 rows for 3 ranks: rank 2 runs row 0 again, weighted 0
    (0, 3, [0], 0, 0.0),  # past the end
])
def test_shard_rows_and_weights(rank, batch, rows, n, weight):
    got_rows, got_n, got_weight = _loader(num_replicas=3, rank=rank).shard(batch)
    assert got_rows.tolist() == rows and got_n == n and got_weight == pytest.approx(weight, rel=1e-15)


def test_each_rank_serves_its_rows_and_together_they_serve_every_item():
    served = {}
    for rank in range(3):
        batches = [b[1].numpy().tolist() for b in _loader(num_replicas=3, rank=rank)]
        served[rank] = batches
    assert served[0] == [[0, 3], [5, 8], [10]] and served[1] == [[1, 4], [6, 9], [11]]
    assert served[2] == [[2], [7], [10]]  # row 0 of the short last batch again (weighted 0 by shard)
    glob = [b[0].numpy().ravel().tolist() for b in _loader(num_replicas=3, rank=1, fetch_global=True)]
    assert glob == [[1.0, 4.0], [6.0, 9.0], [11.0]]


def test_a_rank_of_a_plain_dataset_takes_its_rows_of_the_collated_batch():
    class Plain:  # no get_batch: items collated one by one
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.full(2, i, np.float32), i

    loader = DataLoader(Plain(), batch_size=4, seed=0, prefetch=0, num_replicas=2, rank=1, fetch_global=True)
    batches = [(x.numpy().tolist(), y.numpy().tolist()) for x, y in loader]
    assert batches == [([[1, 1], [3, 3]], [1, 3]), ([[5, 5]], [5])]


def test_a_pickled_loader_leaves_its_worker_pool_behind():
    loader = _loader()
    loader._pool = object()  # stands for a live pool: processes do not pickle
    clone = pickle.loads(pickle.dumps(loader))
    assert clone._pool is None and loader._pool is not None and clone.batch_size == 5 and clone.seed == 0
    loader._pool = None


def test_to_arrays_marks_tensors_through_every_container():
    Pair = namedtuple("Pair", "x y")
    t = convlab.tensor([1.0, 2.0])
    out = to_arrays({"a": [t, (t, 3)], "b": Pair(t, "s"), "c": np.ones(1)})
    assert type(out["a"]) is list and type(out["a"][1]) is tuple and type(out["b"]) is Pair
    for a in (out["a"][0], out["a"][1][0], out["b"].x):
        assert type(a) is _TensorArray and a.tolist() == [1.0, 2.0]
    assert out["a"][1][1] == 3 and out["b"].y == "s" and type(out["c"]) is np.ndarray
