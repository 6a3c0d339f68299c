"""Memory of the current process from /proc (Linux): counts C++ allocations (SimpleITK) that
tracemalloc misses, and unlike ru_maxrss is not inherited from the parent process."""


def status_bytes(key: str) -> int:
    """A ``/proc/self/status`` field in bytes, e.g. "VmRSS" (now) or "VmHWM" (peak so far)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)
