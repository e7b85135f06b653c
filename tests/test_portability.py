"""Windows and macOS, checked by proxy on Linux (the workflow runs the same tests there for real).

- Every command prints only what a Windows console's code page can encode: its output
  redirected to a file or a pipe is encoded as cp1252 there, not UTF-8, and one character
  outside it is a UnicodeEncodeError. Here ``PYTHONIOENCODING=cp1252`` does the same.
- Paths are joined with pathlib (or ``os.path``), never by writing "/" between path pieces.
- Whatever only a POSIX system has (``fcntl``, ``/proc``, ``os.getuid`` ...) is used in one of
  the places listed below, each with its fallback; and the fallbacks are run here.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "effmnist"


# --- a Windows console's code page ---------------------------------------------------------

# Each command, run in one interpreter whose streams are cp1252 (strict) from its start.
COMMANDS = [
    ["--help"],
    ["train", "--help"],
    ["data", "--help"],
    ["predict", "--help"],
    ["ablate", "--help"],
    ["final", "--help"],
    ["bench", "--help"],
    ["where", "--help"],
    ["clean", "--help"],
    ["--version"],
    ["where"],  # lists the checkpoint below
    ["predict", "seven.png"],  # a real prediction, with that checkpoint (the default one)
    ["clean"],  # deletes it
    ["where"],
]
DRIVER = """
import json, sys, traceback
from effmnist.cli import main

print("@@@ encoding", sys.stdout.encoding, sys.stderr.encoding, flush=True)
for argv in json.loads(sys.argv[1]):
    print("@@@ command", " ".join(argv), flush=True)
    try:
        code = main(argv)
    except SystemExit as exc:  # --help and --version exit
        code = exc.code
    except Exception:
        traceback.print_exc()
        code = "an exception"
    sys.stdout.flush()
    print("@@@ exit", code, flush=True)
"""


def _cp1252_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUTF8", "PYTHONIOENCODING")}
    env.update(PYTHONIOENCODING="cp1252", PYTHONUTF8="0", EFFMNIST_DATA=str(home))
    return env


def _tiny_checkpoint(path: Path) -> None:
    """A real checkpoint, trained for one batch on 64 random images (a second or so)."""
    from effmnist.checkpoint import save_checkpoint
    from effmnist.data.mnist import Splits
    from effmnist.training import train

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(192, 1, 28, 28, generator=g), torch.randint(0, 10, (192,), generator=g)
    splits = Splits(x[:64], y[:64], x[64:128], y[64:128], x[128:], y[128:])
    save_checkpoint(train("reference", splits, seed=0, progress=False), path)


def test_every_command_prints_only_what_a_windows_console_can_encode(tmp_path):
    from effmnist.digits.synthetic import draw_digit

    home = tmp_path / "José's effmnist"  # a user folder's name outside ASCII, inside cp1252
    _tiny_checkpoint(home / "checkpoints" / "reference_seed0.pt")
    draw_digit(7).save(tmp_path / "seven.png")
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(COMMANDS)],
        cwd=tmp_path, env=_cp1252_env(home), capture_output=True, timeout=300,
    )  # fmt: skip
    out, err = proc.stdout.decode("cp1252"), proc.stderr.decode("cp1252")
    assert proc.returncode == 0 and "UnicodeEncodeError" not in err, out + err
    assert out.startswith("@@@ encoding cp1252 cp1252\n"), out  # the proxy is in force
    runs = re.findall(r"^@@@ command ([^\n]*)\n(.*?)^@@@ exit ([^\n]*)$", out, re.M | re.S)
    assert [command for command, _, _ in runs] == [" ".join(c) for c in COMMANDS]
    failed = {command: code for command, _, code in runs if code not in ("0", "None")}
    assert failed == {}, out + err
    first_where = runs[COMMANDS.index(["where"])][1]
    assert "José's effmnist" in first_where and "reference_seed0.pt" in first_where
    printed = {command: text for command, text, _ in runs}  # the last `where` wins
    assert printed["predict seven.png"].startswith("seven.png: 7 (")
    assert "deleting" in printed["clean"] and "reference_seed0.pt" not in printed["where"]


def test_the_program_itself_starts_under_a_windows_code_page(tmp_path):
    """``python -m effmnist``, the way a learner starts it, with its streams in cp1252."""
    proc = subprocess.run(
        [sys.executable, "-m", "effmnist", "where"],
        cwd=tmp_path, env=_cp1252_env(tmp_path / "José"), capture_output=True, timeout=300,
    )  # fmt: skip
    out, err = proc.stdout.decode("cp1252"), proc.stderr.decode("cp1252")
    assert proc.returncode == 0 and "UnicodeEncodeError" not in err, out + err
    assert f"effmnist's home: {tmp_path / 'José'}" in out


# --- paths are joined with pathlib ---------------------------------------------------------

# Parts of a name or a literal that say "this is a path" when they meet a "/".
PATH_WORDS = re.compile(
    r"path|folder|dir|root|home|file|name|stem|suffix|parent|cwd|tmp|temp|checkpoint|ckpt"
    r"|mnist|raw|data|results|\.(pt|json|png|jpe?g|csv|txt|ipynb|py|whl|gz)\b",
    re.IGNORECASE,
)
# A "/" between two pieces that are not paths (a fraction, a count), by file and source text.
NOT_PATHS: dict[str, str] = {
    # none yet: add "file.py: source" -> why, e.g. a URL built from its parts
}


def _pieces(node: ast.AST) -> list[ast.AST]:
    """The pieces a string is made of: an f-string's parts, or the operands of a chain of +."""
    if isinstance(node, ast.JoinedStr):
        return list(node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _pieces(node.left) + _pieces(node.right)
    return [node.value if isinstance(node, ast.FormattedValue) else node]


def _text(piece: ast.AST) -> str | None:
    return piece.value if isinstance(piece, ast.Constant) and isinstance(piece.value, str) else None


def _path_joins(source: str) -> list[str]:
    """Each f-string or + chain that puts a "/" between a path piece and another piece."""
    tree, found = ast.parse(source), []
    inner = {  # a part of a longer chain: judged with the whole chain
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
        for child in (node.left, node.right)
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr | ast.BinOp) or id(node) in inner:
            continue
        pieces = _pieces(node)
        if all(_text(p) is not None for p in pieces):
            continue  # a plain literal ("a/b"): pathlib takes it as it is, on Windows too
        for i, piece in enumerate(pieces):
            text = _text(piece)
            if text is None or "/" not in text:
                continue
            before = pieces[i - 1] if i > 0 and text.startswith("/") else None
            after = pieces[i + 1] if i + 1 < len(pieces) and text.endswith("/") else None
            neighbours = [ast.unparse(p) for p in (before, after) if p is not None]
            if neighbours and (PATH_WORDS.search(text) or PATH_WORDS.search(" ".join(neighbours))):
                found.append(ast.unparse(node))
                break
    return found


def test_the_path_join_finder_finds_joins_and_nothing_else():
    """A check on the checker, with joins of each kind and strings that only look like them."""
    joins = [
        'f"{folder}/{name}"',
        'root + "/" + name',
        'str(home()) + "/checkpoints"',
        'f"{base}/MNIST/raw"',
        'f"{recipe}_seed{seed}.pt/" + x',
        '"data/" + str(n)',
    ]
    for code in joins:
        assert _path_joins(code) == [ast.unparse(ast.parse(code))], code
    not_joins = [
        'f"  repeat {r + 1}/{repeats}  {name:<18} {wall:6.2f} s"',
        "mark + str(v['wins']) + '/' + str(v['n'])",
        'Path(folder) / "MNIST" / "raw"',
        '"results/ablations.json"',
        'f"{images_per_second:,.0f} images/s"',
    ]
    for code in not_joins:
        assert _path_joins(code) == [], code


def test_paths_are_joined_with_pathlib():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for join in _path_joins(path.read_text(encoding="utf-8")):
            if f"{relative}: {join}" not in NOT_PATHS:
                found.append(f"{relative}: {join}")
    assert found == [], "join paths with pathlib (Path(a) / b), not '/':\n" + "\n".join(found)


# --- what only a POSIX system has ----------------------------------------------------------

POSIX_MODULES = {"fcntl", "resource", "signal", "pwd", "grp", "termios", "posix"}
POSIX_CALLS = {
    f"os.{name}"
    for name in (
        "umask getuid geteuid getgid getegid getgroups fork forkpty setsid killpg getpgid "
        "setpgrp sched_getaffinity sched_setaffinity uname statvfs getloadavg nice chown "
        "lchown mkfifo sysconf pipe2 wait3 wait4"
    ).split()
}
POSIX_PATHS = ("/proc/", "/sys/", "/dev/", "/etc/", "/usr/", "/var/", "/tmp/")

# Every use of something only a POSIX system has, module by module, and why it is safe
# elsewhere. A new one fails the test below until it is guarded and listed here.
POSIX_ONLY: dict[str, dict[str, str]] = {
    "effmnist/data/fileio.py": {
        # default_file_mode reads the umask from Linux's /proc in a try; on OSError or a
        # missing line (macOS, Windows, an old kernel) it creates a probe file and reads its
        # mode instead (tests/test_fileio.py runs both ways)
        "/proc/self/status": "read in a try, with the probe file as fallback",
    },
    "effmnist/provenance.py": {
        # cpu_name reads /proc/cpuinfo in a try; on OSError, platform.processor() or
        # platform.machine() (run below, as on macOS and Windows)
        "/proc/cpuinfo": "read in a try, with platform's names as fallback",
    },
    "effmnist/digits/synthetic.py": {
        # digit_font tries Debian's DejaVu path first, then fonts by name (Arial on Windows
        # and macOS), then PIL's built-in font; each failure is an OSError it catches
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf": "one candidate among several",
    },
}


def _docstrings(tree: ast.AST) -> set[int]:
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def _posix_uses(source: str) -> set[str]:
    """The POSIX-only modules imported, os functions used and system paths named in code
    (docstrings and comments aside)."""
    tree = ast.parse(source)
    skip, uses = _docstrings(tree), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            uses |= {a.name for a in node.names if a.name.split(".")[0] in POSIX_MODULES}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            if (node.module or "").split(".")[0] in POSIX_MODULES:
                uses.add(node.module)
            if node.module == "os":
                uses |= {f"os.{a.name}" for a in node.names} & POSIX_CALLS
        elif isinstance(node, ast.Attribute) and ast.unparse(node) in POSIX_CALLS:
            uses.add(ast.unparse(node))
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        ):
            if node.value.startswith(POSIX_PATHS):
                uses.add(node.value)
    return uses


def test_the_posix_finder_sees_code_and_skips_prose():
    source = (
        '"""os.umask and /proc/ in a docstring"""\n'
        "import fcntl, json\n"
        "from os import getuid\n"
        "resource = 'a variable'  # import resource in a comment\n"
        "os.umask(0)\n"
        "open('/proc/meminfo')\n"
        "open('results/x.json')\n"
    )
    assert _posix_uses(source) == {"fcntl", "os.getuid", "os.umask", "/proc/meminfo"}


def test_what_only_posix_has_is_used_only_where_listed_with_its_fallback():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        uses = _posix_uses(path.read_text(encoding="utf-8"))
        if uses:
            found[path.relative_to(ROOT).as_posix()] = sorted(uses)
    assert found == {module: sorted(uses) for module, uses in POSIX_ONLY.items()}


def test_the_cpu_is_named_without_proc_cpuinfo(monkeypatch):
    """macOS and Windows have no /proc: cpu_name falls back to what platform says."""
    from effmnist import provenance

    real_open = builtins.open

    def no_proc(file, *args, **kwargs):
        if str(file).startswith("/proc/"):
            raise FileNotFoundError(2, "No such file or directory", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc)
    assert provenance.cpu_name() == (platform.processor() or platform.machine())


def test_digits_are_drawn_without_debians_fonts(monkeypatch):
    """Without DejaVu (macOS, Windows) digit_font takes the next font it finds, or PIL's."""
    from PIL import ImageFont

    from effmnist.digits import synthetic

    # (Pillow also looks a missing file's name up in the system's font folders: no such name)
    monkeypatch.setattr(synthetic, "FONT_CANDIDATES", ("/nonexistent/no-such-font.ttf",))
    assert isinstance(synthetic.digit_font(40), ImageFont.FreeTypeFont | ImageFont.ImageFont)
    assert synthetic.draw_digit(3, style="font").size == (200, 200)
