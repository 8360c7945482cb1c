"""Run a module (`-m NAME`) or a script as __main__, and at exit write this process's peak
resident memory in kB (VmHWM) to the file named by $BENCH_PEAK_FILE.

Why not ru_maxrss from os.wait4: Linux starts a child's maximum from the parent's resident
size when the child execs, so a benchmark that has built a big workbook would see every step
that large. VmHWM belongs to the child's own address space, made new by exec.
"""

import atexit
import os
import runpy
import sys


def _write_peak() -> None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
                    out.write(line.split()[1])
                return


atexit.register(_write_peak)
if sys.argv[1] == "-m":
    sys.argv = [sys.argv[2], *sys.argv[3:]]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
else:
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
