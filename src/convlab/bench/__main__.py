"""``python -m convlab.bench``: the bench's options (``convlab bench``), or ``--memory-child SPEC``
(the subprocess that measures one library's peak memory)."""

import json
import sys

from .memory import _memory_child


def _main(argv=None):  # ``python -m convlab.bench --memory-child SPEC`` (the memory subprocess)
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "--memory-child":
        spec = json.loads(argv[1])
        out = _memory_child(spec["lib"], spec["name"], tuple(spec["shape"]), spec["batch"], spec["steps"], spec["threads"])
        print(json.dumps(out))
        return 0
    from .commands.bench import standalone

    return standalone(argv)


if __name__ == "__main__":
    sys.exit(_main())
