"""Scan a folder in this process and print its memory figures as JSON (used by test_resources.py).

    python tests/_rss_scan.py WARMUP_FOLDER FOLDER OUT

The process first imports everything and scans WARMUP_FOLDER (a tiny model: every code path,
no large buffers), then resets the kernel's peak-RSS counter (VmHWM, /proc/self/clear_refs)
and records the current RSS as `base`. `growth` = peak RSS during the scan of FOLDER - base.
Where clear_refs is unavailable, ru_maxrss is used (the peak so far can then only be higher,
so the growth reported is an overestimate, never an underestimate).
"""
import json
import resource
import sys
import tempfile

import psutil

from lrscan.scan import scan_model


def peak_rss() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak() -> str:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "VmHWM"
    except OSError:
        return "ru_maxrss"


warm, folder, out = sys.argv[1:4]
with tempfile.TemporaryDirectory() as tmp:
    scan_model(warm, out=tmp, format="csv")
how = reset_peak()
base = psutil.Process().memory_info().rss
df = scan_model(folder, out=out, format="csv")
peak = peak_rss()
print(json.dumps({"base": base, "peak": peak, "growth": peak - base, "rows": len(df), "measured_with": how}))
