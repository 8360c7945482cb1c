"""When Python's cyclic garbage collector may run: not while a whole tab is read.

Reading a tab makes several small objects per cell and row, and keeps them all. The
collector starts a pass whenever enough new objects were made, and its full passes walk
every object made so far, to free none of them: at 30,000 rows a third of a no-op refresh
went to that (and a full pass while writing --json walked the whole pipeline again).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No collector pass inside; afterwards, what was made inside is kept out of its passes.

    Reference counting frees what is let go as usual, inside and after (only cycles wait for
    the collector). On the way out the objects alive are frozen (gc.freeze: the collector
    no longer walks them, and the read rows stay alive for the whole command anyway); the
    next bulk read unfreezes them first, so a process that reads again and again (the tests,
    a long-lived caller) still has its old cycles collected. Nested, only the outermost
    pause does anything; with the collector off already, nothing at all.
    """
    if not gc.isenabled():
        yield
        return
    gc.unfreeze()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
