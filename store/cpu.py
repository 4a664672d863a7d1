"""What this x86-64 CPU offers, asked of the CPU itself (`cpuid`), as the native libraries ask it.

/proc/cpuinfo says what the kernel saw at boot; onnxruntime and ggml choose their kernels by `cpuid`, and under
an emulator or a hypervisor the two can disagree. The instruction runs from a few bytes of machine code in an
executable page (x86-64 System V calling convention).
"""

from __future__ import annotations

import ctypes
import mmap
import platform
from functools import cache

# cpuid(leaf=edi, subleaf=esi, out=rdx): push rbx; mov eax,edi; mov ecx,esi; mov r8,rdx; cpuid;
# mov [r8],eax; mov [r8+4],ebx; mov [r8+8],ecx; mov [r8+12],edx; pop rbx; ret
_CPUID = bytes.fromhex("53 89f8 89f1 4989d0 0fa2 418900 41895804 41894808 4189500c 5b c3".replace(" ", ""))


def is_x86_64() -> bool:
    return platform.machine().lower() in {"x86_64", "amd64"}


class MachineCode:
    """A function made of machine code bytes, kept in its own executable page for as long as this object lives."""

    def __init__(self, code: bytes, restype, *argtypes):
        self._page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self._page.write(code)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        self._function = ctypes.CFUNCTYPE(restype, *argtypes)(address)

    def __call__(self, *args):
        return self._function(*args)  # a method, so the page outlives the call even on a temporary object


@cache
def _cpuid_function() -> MachineCode:
    return MachineCode(_CPUID, None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32 * 4))


def cpuid(leaf: int, subleaf: int = 0) -> tuple[int, int, int, int]:
    """(eax, ebx, ecx, edx) of `cpuid` for leaf and subleaf; x86-64 only."""
    out = (ctypes.c_uint32 * 4)()
    _cpuid_function()(leaf, subleaf, ctypes.byref(out))
    return out[0], out[1], out[2], out[3]


@cache
def has_int8_dot_product() -> bool:
    """Whether the CPU adds u8·s8 products exactly in 32 bits (AVX512-VNNI or AVX-VNNI), as onnxruntime's
    fast int8 kernels then do; True off x86-64, where the kernels widen before they add."""
    if not is_x86_64():
        return True
    try:
        if cpuid(0)[0] < 7:
            return False
        avx512_vnni = bool(cpuid(7, 0)[2] >> 11 & 1)
        avx_vnni = bool(cpuid(7, 1)[0] >> 4 & 1)
    except (OSError, ValueError):  # no executable page here (a hardened kernel): assume the saturating kernels
        return False
    return avx512_vnni or avx_vnni


# the leaves that say what the CPU is and what it offers: vendor, signature and features (1), extended features
# (7.0, 7.1), the state XSAVE can hold (0xD: AVX-512's and AMX's registers), extended features and the brand
_IDENTITY_LEAVES = ((0, 0), (1, 0), (7, 0), (7, 1), (0xD, 0), (0xD, 1), (0x80000001, 0), (0x80000002, 0),
                    (0x80000003, 0), (0x80000004, 0))


@cache
def identity() -> str:
    """This CPU as native code sees it, in one line that changes when the CPU or what it offers does: the
    `cpuid` leaves of its vendor, signature, features and brand (with the APIC id masked out), and the kernel,
    which grants the state some features need. Off x86-64, the machine and processor names."""
    kernel = f"{platform.system()} {platform.release()}"
    if not is_x86_64():
        return f"{platform.machine()} {platform.processor()} {kernel}"
    try:
        words = []
        for leaf, subleaf in _IDENTITY_LEAVES:
            eax, ebx, ecx, edx = cpuid(leaf, subleaf)
            if leaf == 1:
                ebx &= 0x0000FFFF  # bits 24-31 are the APIC id of the core this ran on, 16-23 the count
            words.append(f"{eax:08x}{ebx:08x}{ecx:08x}{edx:08x}")
    except (OSError, ValueError):  # no executable page here: what the kernel saw will do
        return f"{platform.machine()} {_proc_cpuinfo_flags()} {kernel}"
    return f"x86_64 {'.'.join(words)} {kernel}"


def _proc_cpuinfo_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith(("flags", "model name")):
                    return " ".join(line.split())
    except OSError:
        pass
    return platform.processor()
