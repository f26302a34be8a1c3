"""Atomic writes, point readers and --at parsing (jacli._io)."""
from __future__ import annotations

import io
import os
import stat

import pytest

from jacli._io import (PointRow, atomic_open, atomic_write, parse_assignments, read_points,
                       read_points_batched, resolve_point)
from jacli.errors import ExitCode, InputError, UsageError

INPUTS = ("x", "y", "z")
NOMINAL = (0.5, -1.0, 9.0)


def rows(text, **kw):
    kw.setdefault("name_for_errors", "pts")
    return list(read_points(io.StringIO(text), INPUTS, NOMINAL, **kw))


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_text_and_bytes(tmp_path):
    target = tmp_path / "out.json"
    atomic_write(target, '{"a": 1}\n')
    assert target.read_text() == '{"a": 1}\n'
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["out.json"]


def test_atomic_write_keeps_permissions_of_existing_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic_write(target, "new")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert target.read_text() == "new"


def test_atomic_write_new_file_gets_umask_permissions(tmp_path):
    target = tmp_path / "new.txt"
    atomic_write(target, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~mask


def test_atomic_open_failure_leaves_target_untouched(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("precious\n")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(target) as f:
            f.write("half a file")
            raise RuntimeError("boom")
    assert target.read_text() == "precious\n"
    assert os.listdir(tmp_path) == ["out.csv"]          # temp file removed


def test_atomic_open_failure_creates_nothing(tmp_path):
    target = tmp_path / "never.txt"
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(target) as f:
            f.write("x")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_atomic_write_to_missing_directory_is_a_usage_error(tmp_path):
    target = tmp_path / "no" / "such" / "out.json"
    with pytest.raises(UsageError, match=r"cannot write '.*out\.json': No such file") as ei:
        atomic_write(target, "x")
    assert ei.value.exit_code == ExitCode.USAGE


def test_atomic_dash_means_stdout(capsys):
    atomic_write("-", "hello\n")
    with atomic_open("-") as f:
        f.write("world\n")
    assert capsys.readouterr().out == "hello\nworld\n"


def test_atomic_open_rejects_other_modes(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(tmp_path / "f", "a"):
            pass


# --------------------------------------------------------------------------- CSV points


def test_csv_columns_in_any_order_and_missing_take_nominal():
    assert rows("z,x\n1,2\n3,4\n") == [
        PointRow(0, (2.0, -1.0, 1.0), None, {}),
        PointRow(1, (4.0, -1.0, 3.0), None, {}),
    ]


def test_csv_whitespace_comments_blank_lines_and_bom(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_bytes("\ufeff# points\n x , y \n\n 1 , 2e-3 \n# skip\n3,4\n".encode())
    got = list(read_points(path, INPUTS, NOMINAL))
    assert [r.values for r in got] == [(1.0, 0.002, 9.0), (3.0, 4.0, 9.0)]
    assert [r.index for r in got] == [0, 1]


def test_csv_bad_rows_are_reported_and_reading_goes_on():
    got = rows("x,y\n1,2\n1,abc\n1\n1,nan\n-inf,1\n1,1e400\n1,\n5,6\n")
    assert [r.index for r in got] == list(range(8))
    assert got[0].values == (1.0, 2.0, 9.0) and got[0].error is None
    assert got[7].values == (5.0, 6.0, 9.0) and got[7].error is None
    errors = [r.error for r in got[1:7]]
    assert all(r.values is None for r in got[1:7])
    assert errors == [
        "pts:3: y: 'abc' is not a number",
        "pts:4: expected 2 values (x,y), got 1",
        "pts:5: y: 'nan' is not a finite number; points must be finite",
        "pts:6: x: '-inf' is not a finite number; points must be finite",
        "pts:7: y: '1e400' overflows to infinity; points must be finite",
        "pts:8: y: empty value; expected a number",
    ]


def test_csv_extra_columns_with_allowed_prefix():
    got = rows("x,u.x,u.z\n1,2,3\n", extra_prefixes=("u.",))
    assert got == [PointRow(0, (1.0, -1.0, 9.0), None, {"u.x": 2.0, "u.z": 3.0})]


def test_csv_unknown_column_names_it_and_lists_inputs():
    with pytest.raises(InputError, match=r"^pts:1: unknown column 'yy' \(did you mean 'y'\?\); "
                                         r"the inputs are x, y, z$") as ei:
        rows("x,yy\n1,2\n")
    assert ei.value.exit_code == ExitCode.MODEL
    assert (ei.value.file, ei.value.line) == ("pts", 1)


def test_csv_unknown_column_mentions_allowed_prefixes():
    with pytest.raises(InputError, match=r"extra columns must start with 'u\.'"):
        rows("x,v.x\n1,2\n", extra_prefixes=("u.",))


def test_csv_duplicate_column():
    with pytest.raises(InputError, match="column 'x' appears twice"):
        rows("x,x\n1,2\n")


def test_csv_without_header():
    with pytest.raises(InputError, match=r"pts:1: the first line looks like data; .* 'x,y,z'"):
        rows("1,2,3\n4,5,6\n")


def test_empty_file():
    with pytest.raises(InputError, match=r"^pts: is empty; expected a CSV header naming inputs"):
        rows("")


def test_only_blank_and_comment_lines():
    with pytest.raises(InputError, match=r"^pts: has no data \(only blank or comment lines\)"):
        rows("\n# nothing\n\n")


def test_header_without_rows():
    with pytest.raises(InputError, match=r"^pts: has a header but no data rows$"):
        rows("x,y\n\n")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: points file not found"):
        read_points(tmp_path / "nope.csv", INPUTS, NOMINAL)


def test_json_array_is_refused():
    with pytest.raises(InputError, match="JSON array is not a points file"):
        rows('[{"x": 1}]\n')


# --------------------------------------------------------------------------- JSON Lines points


def test_jsonl_detected_and_missing_keys_take_nominal():
    reader = read_points(io.StringIO('{"y": 2, "x": 1}\n\n{"z": -3.5e-2}\n'), INPUTS, NOMINAL)
    assert reader.format == "jsonl" and reader.columns is None
    assert [r.values for r in reader] == [(1.0, 2.0, 9.0), (0.5, -1.0, -0.035)]


def test_jsonl_bad_rows_are_reported_and_reading_goes_on():
    text = "\n".join([
        '{"x": 1}',
        '{"x": NaN}',
        '{"x": 1e999}',
        '{"x": "1"}',
        '{"x": true}',
        '{"x": null}',
        '{"q": 1}',
        '[1, 2]',
        '{"x": 1,',
        '{"x": 1, "x": 2}',
        '{"y": 7}',
    ]) + "\n"
    got = rows(text)
    assert [r.index for r in got] == list(range(11))
    assert got[0].values == (1.0, -1.0, 9.0) and got[10].values == (0.5, 7.0, 9.0)
    # the JSON parser's own wording differs between Python versions
    assert got[8].error.startswith("pts:9: invalid JSON: ") and "(column " in got[8].error
    got[8] = got[8]._replace(error="pts:9: invalid JSON: ...")
    assert [r.error for r in got[1:10]] == [
        "pts:2: x: NaN is not a finite number; points must be finite",
        "pts:3: x: 1e999 is not a finite number; points must be finite",
        'pts:4: x: expected a number, got the string "1"',
        "pts:5: x: expected a number, got true",
        "pts:6: x: expected a number, got null",
        "pts:7: unknown key 'q'; the inputs are x, y, z",
        'pts:8: expected a JSON object such as {"x": 1.0}, got an array',
        "pts:9: invalid JSON: ...",
        "pts:10: key 'x' appears twice in the object",
    ]


def test_jsonl_extra_keys():
    got = rows('{"x": 1, "u.y": 2}\n', extra_prefixes=("u.",))
    assert got == [PointRow(0, (1.0, -1.0, 9.0), None, {"u.y": 2.0})]


def test_format_can_be_forced():
    # a CSV whose single column is named like nothing JSON would accept
    with pytest.raises(InputError, match="unknown column"):
        rows('{"x": 1}\n', format="csv")


# --------------------------------------------------------------------------- streaming


class CountingStream(io.StringIO):
    """A text stream that counts the lines taken from it."""

    def __init__(self, text):
        super().__init__(text)
        self.taken = 0

    def __next__(self):
        line = super().__next__()
        self.taken += 1
        return line


@pytest.mark.parametrize("head,line", [("x,y\n", "1,2\n"), ("", '{"x": 1, "y": 2}\n')])
def test_reading_is_lazy(head, line):
    stream = CountingStream(head + line * 10_000)
    reader = read_points(stream, INPUTS, NOMINAL)
    first = [next(reader) for _ in range(3)]
    assert [r.values for r in first] == [(1.0, 2.0, 9.0)] * 3
    assert stream.taken <= 6          # header, a peeked row and the rows asked for
    assert sum(1 for _ in reader) == 10_000 - 3


def test_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("x\n1\noops\n"))
    got = list(read_points("-", INPUTS, NOMINAL))
    assert got[0].values == (1.0, -1.0, 9.0)
    assert got[1].error == "<stdin>:3: x: 'oops' is not a number"


def test_reader_closes_its_file(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("x\n1\n2\n")
    reader = read_points(path, INPUTS, NOMINAL)
    assert reader.name == str(path)
    list(reader)
    reader.close()                     # idempotent
    with read_points(path, INPUTS, NOMINAL) as r2:
        next(r2)


def test_batched():
    text = "x\n" + "".join(f"{i}\n" for i in range(7))
    batches = list(read_points_batched(io.StringIO(text), INPUTS, NOMINAL, 3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [r.index for b in batches for r in b] == list(range(7))


def test_batched_errors_are_raised_at_call_time():
    with pytest.raises(InputError, match="is empty"):
        read_points_batched(io.StringIO(""), INPUTS, NOMINAL, 3)
    with pytest.raises(ValueError, match="batch_size"):
        read_points_batched(io.StringIO("x\n1\n"), INPUTS, NOMINAL, 0)


# --------------------------------------------------------------------------- assignments


def test_parse_assignments():
    assert parse_assignments(" x = 1, y=-2.5e-3 ,z=0") == {"x": 1.0, "y": -0.0025, "z": 0.0}


@pytest.mark.parametrize("text,message", [
    ("", r"^--at: empty; expected name=value pairs such as 'x=1,y=2'$"),
    ("x=1,,y=2", r"^--at: empty item in 'x=1,,y=2'"),
    ("x", r"^--at: 'x' has no '='; expected name=value, such as 'x=1'$"),
    ("=1", r"^--at: '=1' has no name before '='$"),
    ("x=abc", r"^--at: x: 'abc' is not a number$"),
    ("x=", r"^--at: x: empty value; expected a number$"),
    ("x=nan", r"^--at: x: 'nan' is not a finite number; points must be finite$"),
    ("x=1,x=2", r"^--at: 'x' is given twice$"),
])
def test_parse_assignments_errors(text, message):
    with pytest.raises(UsageError, match=message):
        parse_assignments(text)


def test_parse_assignments_names_the_option():
    with pytest.raises(UsageError, match=r"^--param: 'a' has no '='"):
        parse_assignments("a", what="--param")


def test_resolve_point():
    assert resolve_point({"z": 2.0}, INPUTS, NOMINAL) == (0.5, -1.0, 2.0)
    with pytest.raises(UsageError, match=r"^--at: 'yy' is not an input \(did you mean 'y'\?\); "
                                         r"the inputs are x, y, z$"):
        resolve_point({"yy": 1.0}, INPUTS, NOMINAL)
