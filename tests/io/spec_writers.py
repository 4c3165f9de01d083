"""Writers of the formats that have no genuine file here, each to its published layout (see the reader
module docstrings for the source of each layout). ``write_all`` turns one scan into every format; it
made ``tests/data/formats/spec/`` from the genuine zincite RAW v2 scan (run this module to remake it).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
from pathlib import Path

import numpy as np

CU_KA1, CU_KA2, CU_KB = 1.5406, 1.54439, 1.39222


def _xy_lines(x, y, fmt="{:.4f} {:.1f}"):
    return "\n".join(fmt.format(a, b) for a, b in zip(x, y)) + "\n"


def xy(x, y) -> str:
    return "# 2theta intensity (Cu K-alpha1; zincite, converted from the genuine RAW v2 file)\n" + _xy_lines(x, y)


def xye(x, y) -> str:
    e = np.sqrt(np.maximum(y, 1.0))
    return ("# wavelength: 1.5406 A\n# 2theta intensity sigma\n"
            + "\n".join(f"{a:.4f} {b:.1f} {c:.4f}" for a, b, c in zip(x, y, e)) + "\n")


def csv(x, y) -> str:
    return "2theta,intensity\n" + _xy_lines(x, y, "{:.4f},{:.1f}")


def ras(x, y) -> str:
    head = ["*RAS_DATA_START", "*RAS_HEADER_START", '*FILE_SAMPLE "zincite"', '*HW_XG_TARGET_NAME "Cu"',
            f'*HW_XG_WAVE_LENGTH_ALPHA1 "{CU_KA1}"', f'*HW_XG_WAVE_LENGTH_ALPHA2 "{CU_KA2}"',
            f'*HW_XG_WAVE_LENGTH_BETA "{CU_KB}"', '*MEAS_SCAN_AXIS_X "TwoThetaTheta"',
            f'*MEAS_SCAN_START "{x[0]:.4f}"', f'*MEAS_SCAN_STEP "{x[1] - x[0]:.4f}"', f'*MEAS_SCAN_STOP "{x[-1]:.4f}"',
            '*MEAS_SCAN_SPEED "1.0000"', '*MEAS_SCAN_SPEED_UNIT "deg/min"', "*RAS_HEADER_END", "*RAS_INT_START"]
    rows = [f"{a:.4f} {b:.1f} 1.0000" for a, b in zip(x, y)]
    return "\r\n".join(head + rows + ["*RAS_INT_END", "*RAS_DATA_END", ""])


def asc(x, y) -> str:
    # file header, then one group: *BEGIN, the group header (*START/*STOP/*STEP/*COUNT), values, *END
    head = ["*TYPE\t\t=  Raw", "*CLASS\t\t=  Standard measurement", "*SAMPLE\t\t=  zincite", "*TARGET\t\t=  Cu",
            f"*KALPHA1\t=  {CU_KA1}", f"*KALPHA2\t=  {CU_KA2}", f"*KBETA\t\t=  {CU_KB}", "*GROUP_COUNT\t=  1",
            "*BEGIN", "*GROUP\t\t=  0", f"*START\t\t=  {x[0]:.4f}", f"*STOP\t\t=  {x[-1]:.4f}",
            f"*STEP\t\t=  {x[1] - x[0]:.4f}", f"*COUNT\t\t=  {len(y)}"]
    rows = [",   ".join(f"{v:.0f}" for v in y[i:i + 4]) for i in range(0, len(y), 4)]
    return "\n".join(head + rows + ["*END", "*EOF", ""])


def uxd(x, y, counts_only=False) -> str:
    head = ["; zincite, written to the DIFFRAC-AT UXD layout", "_FILEVERSION=1", "_SAMPLE='zincite'",
            f"_WL1={CU_KA1:.6f}", f"_WL2={CU_KA2:.6f}", "_WLRATIO=0.500000", "_ANODE=Cu", "; (Data for Range number 1)",
            "_DRIVE='COUPLED'", "_STEPTIME=3.000000", f"_STEPSIZE={x[1] - x[0]:.6f}", f"_START={x[0]:.6f}"]
    if counts_only:
        rows = ["  ".join(f"{v:.0f}" for v in y[i:i + 8]) for i in range(0, len(y), 8)]
        return "\n".join(head + ["_COUNTS"] + rows) + "\n"
    return "\n".join(head + ["_2THETACOUNTS"] + [f"  {a:.4f}  {b:.0f}" for a, b in zip(x, y)]) + "\n"


def _gsas_bank(n, x, kind):
    return (f"BANK 1 {n} {int(np.ceil(n / (10 if kind == 'STD' else 5)))} CONST {x[0] * 100:.2f} "
            f"{(x[1] - x[0]) * 100:.4f} 0 0 {kind}")


def gsas_std(x, y, prm_name="zincite.prm") -> str:
    lines = ["zincite ZnO (converted from Bruker RAW v2)".ljust(80), f"Instrument parameter file:{prm_name}".ljust(80),
             _gsas_bank(len(y), x, "STD").ljust(80)]
    for i in range(0, len(y), 10):
        lines.append("".join(f"  {v:6.0f}" for v in y[i:i + 10]).ljust(80))
    return "\n".join(lines) + "\n"


def gsas_esd(x, y) -> str:
    lines = ["zincite ZnO ESD".ljust(80), _gsas_bank(len(y), x, "ESD").ljust(80)]
    e = np.sqrt(np.maximum(y, 1.0))
    for i in range(0, len(y), 5):
        lines.append("".join(f"{v:8.0f}{s:8.2f}" for v, s in zip(y[i:i + 5], e[i:i + 5])).ljust(80))
    return "\n".join(lines) + "\n"


def gsas_fxye(x, y, with_errors=True) -> str:
    kind = "FXYE" if with_errors else "FXY"
    lines = ["zincite ZnO " + kind, f"BANK 1 {len(y)} {len(y)} CONST {x[0] * 100:.2f} {(x[1] - x[0]) * 100:.4f} 0 0 {kind}"]
    e = np.sqrt(np.maximum(y, 1.0))
    for a, b, c in zip(x, y, e):
        lines.append(f"{a * 100:12.4f} {b:12.2f} {c:10.4f}" if with_errors else f"{a * 100:12.4f} {b:12.2f}")
    return "\n".join(lines) + "\n"


def gsas_prm() -> str:
    return ("            123456789012345678901234567890123456789012345678901234567890\n"
            "INS   BANK      1\nINS   HTYPE   PXCR\n"
            f"INS  1 ICONS  {CU_KA1:.6f}  {CU_KA2:.6f}       0.0         0       0.0    0       0.0\n"
            "INS  1I HEAD  zincite test instrument\n")


def fullprof_instrm0(x, y) -> str:
    rows = ["".join(f"{v:8.0f}" for v in y[i:i + 10]) for i in range(0, len(y), 10)]
    return f"{x[0]:.4f} {x[1] - x[0]:.4f} {x[-1]:.4f}  zincite Cu K-alpha1\n" + "\n".join(rows) + "\n"


def fullprof_xydata(x, y) -> str:
    head = ["XYDATA", "INTER  1.0  1.0  0", "TEMP  295.0", "! zincite, lambda = 1.5406 A", "! 2theta  counts  sigma",
            "! written to the FullProf INSTRM=10 layout"]
    e = np.sqrt(np.maximum(y, 1.0))
    return "\n".join(head + [f"{a:10.4f} {b:10.1f} {c:8.3f}" for a, b, c in zip(x, y, e)]) + "\n"


def chi_two_theta(x, y) -> str:
    return ("zincite.chi\n2-Theta Angle (Degrees)\nIntensity\n" + f"{len(y):12d}\n"
            + "\n".join(f"  {a:.7E}  {b:.7E}" for a, b in zip(x, y)) + "\n")


def q_of(x, lam=CU_KA1):
    return 4 * np.pi * np.sin(np.deg2rad(x / 2)) / lam


def chi_q_nm(x, y) -> str:
    q_nm = q_of(x) * 10.0
    return ("zincite integrated in Q\nQ (nm^-1)\nIntensity\n" + f"{len(y):12d}\n"
            + "\n".join(f"  {a:.9E}  {b:.7E}" for a, b in zip(q_nm, y)) + "\n")


def xy_q(x, y) -> str:
    return "# Q(1/A) intensity\n" + "\n".join(f"{a:.8f} {b:.1f}" for a, b in zip(q_of(x), y)) + "\n"


def xy_d(x, y) -> str:
    d = 2 * np.pi / q_of(x)
    return "d-spacing intensity\n" + "\n".join(f"{a:.8f} {b:.1f}" for a, b in zip(d, y)) + "\n"


def xy_d_no_header(x, y) -> str:
    d = 2 * np.pi / q_of(x)
    return "\n".join(f"{a:.8f} {b:.1f}" for a, b in zip(d, y)) + "\n"


def bruker_raw_v3(x, y) -> bytes:
    """RAW1.01 to the xylib/GSAS-II layout: 712-byte file header, 304-byte range header, f32 data."""
    head = bytearray(712)
    head[0:7] = b"RAW1.01"
    struct.pack_into("<I", head, 8, 1)          # status
    struct.pack_into("<I", head, 12, 1)         # ranges
    head[16:26] = b"01/12/26\x00\x00"
    head[26:36] = b"12:00:00\x00\x00"
    head[326:326 + 7] = b"zincite"
    struct.pack_into("<f", head, 564, 217.5)    # goniometer radius
    head[608:610] = b"Cu"
    struct.pack_into("<5d", head, 616, 1.54184, CU_KA1, CU_KA2, CU_KB, 0.5)
    rng = bytearray(304)
    struct.pack_into("<I", rng, 0, 304)
    struct.pack_into("<I", rng, 4, len(y))
    struct.pack_into("<d", rng, 8, x[0] / 2)
    struct.pack_into("<d", rng, 16, x[0])
    struct.pack_into("<d", rng, 176, x[1] - x[0])
    struct.pack_into("<f", rng, 192, 3.0)
    struct.pack_into("<I", rng, 256, 0)
    return bytes(head) + bytes(rng) + np.asarray(y, dtype="<f4").tobytes()


def stoe_raw(x, y) -> bytes:
    """Stoe binary RAW to the layout in ``xrdnet/io/stoe_raw.py`` (2560-byte header, i32 counts)."""
    head = bytearray(2560)
    head[0:14] = b"RAW_1.06Powder"
    struct.pack_into("<f", head, 322, CU_KA2)
    struct.pack_into("<f", head, 326, CU_KA1)
    struct.pack_into("<f", head, 384, 0.5)
    struct.pack_into("<f", head, 572, x[0])
    struct.pack_into("<f", head, 576, x[-1])
    struct.pack_into("<i", head, 2082, len(y))
    return bytes(head) + np.asarray(np.round(y), dtype="<i4").tobytes()


TEXT_WRITERS = {
    "zincite.xy": xy, "zincite.xye": xye, "zincite.csv": csv, "zincite.ras": ras, "zincite.asc": asc,
    "zincite.uxd": uxd, "zincite_counts.uxd": lambda x, y: uxd(x, y, counts_only=True),
    "zincite.gsa": gsas_std, "zincite_esd.gsa": gsas_esd, "zincite.fxye": gsas_fxye,
    "zincite_fxy.gsa": lambda x, y: gsas_fxye(x, y, with_errors=False),
    "zincite_instrm0.dat": fullprof_instrm0, "zincite_xydata.dat": fullprof_xydata,
    "zincite.chi": chi_two_theta, "zincite_q.chi": chi_q_nm, "zincite_q.xy": xy_q, "zincite_d.xy": xy_d,
    "zincite_d_noheader.txt": xy_d_no_header,
}
BINARY_WRITERS = {"zincite_v3.raw": bruker_raw_v3, "zincite_stoe.raw": stoe_raw}


def write_all(folder: Path, x: np.ndarray, y: np.ndarray) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, writer in TEXT_WRITERS.items():
        (folder / name).write_text(writer(x, y), encoding="utf-8")
        out.append(folder / name)
    (folder / "zincite.prm").write_text(gsas_prm(), encoding="utf-8")
    for name, writer in BINARY_WRITERS.items():
        (folder / name).write_bytes(writer(x, y))
        out.append(folder / name)
    text = xy(x, y).encode()
    for name, data in (("zincite.xy.gz", gzip.compress(text, mtime=0)), ("zincite.xy.bz2", bz2.compress(text)),
                       ("zincite.xy.xz", lzma.compress(text))):
        (folder / name).write_bytes(data)
        out.append(folder / name)
    return out


if __name__ == "__main__":  # remake tests/data/formats/spec from the genuine zincite scan
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from xrdnet.io import read_pattern

    here = Path(__file__).resolve().parents[1] / "data" / "formats"
    scan = read_pattern(here / "bruker_raw_v2" / "pyxrd_brk_raw2_zincite.raw")
    keep = scan.two_theta_deg <= 90.0 + 1e-6  # 5–90°, 4251 points: the model's range, smaller files
    written = write_all(here / "spec", np.round(scan.two_theta_deg[keep], 4), scan.intensity[keep])
    print("\n".join(str(p) for p in written))
