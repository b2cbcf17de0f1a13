"""Each input format replays, and a malformed file of each gives the documented one-line error.

Run through the `flash-green` command itself (`bot.cli.main`), as a user runs it: exit codes,
stderr and the output directory are what is checked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.replay.ticks import COLUMNS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "replay"
SPOT, FUTURES, SIM = (
    EXAMPLES / "spot-halfhourly.csv",
    EXAMPLES / "futures-daily.csv",
    EXAMPLES / "sim-1day.csv",
)


def replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["replay", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def report(out: Path) -> dict[str, Any]:
    return json.loads((out / "report.json").read_text())


def test_the_original_projects_spot_and_futures_feeds_replay_as_they_are(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # given the original feed files: half-hourly spot, daily futures (timestamp_iso,price_gbp_per_mwh)
    # when they are replayed
    code, out, _ = replay(capsys, str(SPOT), "--futures", str(FUTURES), "--out", str(tmp_path / "r"))
    # then the cycle traded on them and the report says so, per day too
    assert code == 0, out
    r = report(tmp_path / "r")
    assert r["summary"]["trades"] > 0 and r["changes"] == 96  # the futures rows share spot times
    assert [d["day"] for d in r["pnl_by_day"]] == ["2026-01-05", "2026-01-06"]
    assert r["blocked_by_reason"]["outside_window"] > 0  # the 21:00-05:00 changes
    assert f"{r['summary']['trades']} trades" in out


def test_the_committed_sample_replays_and_csv_and_parquet_give_one_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # given the committed sample, and the same simulated day written as Parquet
    assert (
        main(
            ["simulate-ticks", "--days", "1", "--interval-ms", "600000", "--out", str(tmp_path / "s.parquet")]
        )
        == 0
    )
    # when both are replayed
    assert replay(capsys, str(SIM), "--out", str(tmp_path / "csv"))[0] == 0
    assert replay(capsys, str(tmp_path / "s.parquet"), "--out", str(tmp_path / "pq"))[0] == 0
    # then the reports agree: the sample is the seeded simulated day
    csv, pq = report(tmp_path / "csv"), report(tmp_path / "pq")
    assert csv["summary"] == pq["summary"] and csv["summary"]["trades"] > 0
    assert csv["rows"] == pq["rows"] == len(SIM.read_text().splitlines()) - 1


def test_a_sweep_runs_each_value_side_by_side(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = replay(
        capsys,
        str(SIM),
        "--sweep",
        "MIN_PROFIT_GBP=1,40",
        "--set",
        "KELLY_BANK_GBP=0",
        "--out",
        str(tmp_path / "r"),
    )
    assert code == 0
    runs = report(tmp_path / "r")["sweep"]
    assert [r["label"] for r in runs] == ["MIN_PROFIT_GBP=1", "MIN_PROFIT_GBP=40"]
    assert runs[0]["report"]["summary"]["trades"] > runs[1]["report"]["summary"]["trades"]
    assert all(r["settings"]["KELLY_BANK_GBP"] == "0" for r in runs)
    assert (tmp_path / "r" / "runs" / "02" / "journal.db").is_file()
    assert "Sweep" in (tmp_path / "r" / "report.html").read_text()


def test_a_bad_setting_is_the_bots_own_config_error_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = replay(capsys, str(SIM), "--sweep", "SLIPPAGE_BP=5,lots", "--out", str(tmp_path / "r"))
    assert code == 2
    assert err.strip().splitlines() == [
        "flash-green replay: invalid settings: SLIPPAGE_BP: Input should be a valid decimal"
    ]
    assert list(tmp_path.iterdir()) == []


def _tick_csv(path: Path, rows: list[str]) -> Path:
    path.write_text(",".join(COLUMNS) + "\n" + "\n".join(rows) + "\n")
    return path


GOOD = "2026-01-05T12:00:00Z,power,ask,0,70.10,50"


@pytest.mark.parametrize(
    ("rows", "where", "expected"),
    [
        (
            [GOOD, "2026-01-05T12:00:00Z,power,ask,1,seventy,50"],
            "3:5",
            "column price: expected a decimal price",
        ),
        (
            [GOOD, "2026-01-05T12:00:01Z,gas,ask,0,70,50"],
            "3:2",
            "column leg: expected power or futures, found 'gas'",
        ),
        ([GOOD, "2026-01-05T12:00:01Z,power,offer,0,70,50"], "3:3", "column side: expected bid or ask"),
        (
            [GOOD, "2026-01-05T12:00:01Z,power,ask,0,70,-1"],
            "3:6",
            "column quantity: expected a decimal quantity",
        ),
        (["yesterday,power,ask,0,70,5"], "2:1", "column timestamp: expected an ISO 8601 UTC time"),
        (
            ["2026-01-05T12:00:01Z,power,ask,0,70,5", GOOD],
            "3:1",
            "expected a time at or after the row before",
        ),
        ([GOOD, "2026-01-05T12:00:01Z,power,ask"], "3:4", "expected 6 columns"),
    ],
)
def test_a_malformed_tick_csv_names_line_column_and_what_was_expected(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: list[str], where: str, expected: str
) -> None:
    bad = _tick_csv(tmp_path / "bad.csv", rows)
    code, _, err = replay(capsys, str(bad), "--out", str(tmp_path / "r"))
    assert code == 1
    assert err.count("\n") == 1 and f"{bad}:{where}: " in err and expected in err, err
    assert not (tmp_path / "r").exists() and [p.name for p in tmp_path.iterdir()] == ["bad.csv"]


def test_a_malformed_tick_parquet_names_the_row_and_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bot.replay.ticks import parquet_schema

    table = pa.table(
        {
            "timestamp": pa.array([1_767_614_400_000_000] * 2, pa.timestamp("us", tz="UTC")),
            "leg": ["power", "futures"],
            "side": ["ask", "bid"],
            "level": pa.array([0, 0], pa.int16()),
            "price": ["70.1", "71.x"],
            "quantity": ["5", "5"],
        },
        schema=parquet_schema(),
    )
    bad = tmp_path / "bad.parquet"
    pq.write_table(table, str(bad))
    code, _, err = replay(capsys, str(bad), "--out", str(tmp_path / "r"))
    assert code == 1
    assert re.fullmatch(
        rf"flash-green replay: {re.escape(str(bad))}:2:5: column price: expected a decimal .*'71\.x'\n", err
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("lines", "where", "expected"),
    [
        (
            ["2026-01-05T00:00:00Z,40", "2026-01-05T00:30:00Z,n/a"],
            "3:2",
            "column price_gbp_per_mwh: expected a decimal price",
        ),
        (
            ["2026-01-05 00:00,40", "half past,41"],
            "3:1",
            "column timestamp_iso: expected an ISO 8601 UTC time",
        ),
    ],
)
def test_a_malformed_feed_names_line_column_and_what_was_expected(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lines: list[str], where: str, expected: str
) -> None:
    bad = tmp_path / "spot.csv"
    bad.write_text("timestamp_iso,price_gbp_per_mwh\n" + "\n".join(lines) + "\n")
    code, _, err = replay(capsys, str(bad), "--futures", str(FUTURES), "--out", str(tmp_path / "r"))
    assert code == 1 and f"{bad}:{where}: {expected}" in err, err
    assert not (tmp_path / "r").exists()


def test_a_spot_feed_without_its_futures_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = replay(capsys, str(SPOT), "--out", str(tmp_path / "r"))
    assert code == 2 and "--futures FILE" in err and err.count("\n") == 1


def test_from_and_to_replay_a_stretch_with_the_books_as_they_stood(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # given the sample day; when only 12:00-14:00 is replayed
    argv = ["--from", "2026-01-05T12:00:00Z", "--to", "2026-01-05T14:00:00Z", "--out", str(tmp_path / "r")]
    assert replay(capsys, str(SIM), *argv)[0] == 0
    # then only the changes of that stretch were evaluated, and the rows before it set the books
    r = report(tmp_path / "r")
    assert (r["from"], r["to"]) == ("2026-01-05T12:00:00Z", "2026-01-05T14:00:00Z")
    assert r["changes"] == 13  # one every ten minutes, both ends included
    assert "missing_quote" not in r["blocked_by_reason"]


def test_an_order_sent_with_latency_meets_the_book_of_its_arrival(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # given a paying spread whose futures bid falls 50 ms later
    ticks = _tick_csv(
        tmp_path / "t.csv",
        [
            "2026-01-05T12:00:00Z,power,ask,0,70.00,10",
            "2026-01-05T12:00:00Z,power,bid,0,69.90,10",
            "2026-01-05T12:00:00Z,power,bid,1,69.50,10",
            "2026-01-05T12:00:00Z,futures,bid,0,72.00,10",
            "2026-01-05T12:00:00.050Z,futures,bid,0,70.50,10",
        ],
    )
    common = ["--set", "KELLY_BANK_GBP=0", "--set", "PRICE_TOLERANCE_BP=50"]
    # when it is replayed without latency, and with 100 ms per order
    assert (
        replay(capsys, str(ticks), *common, "--set", "EXEC_LATENCY_MS=0", "--out", str(tmp_path / "fast"))[0]
        == 0
    )
    assert (
        replay(capsys, str(ticks), *common, "--set", "EXEC_LATENCY_MS=100", "--out", str(tmp_path / "slow"))[
            0
        ]
        == 0
    )
    # then the fast futures order sells at the bid it saw (5 bp slippage); the slow one finds the
    # lower bid past its limit, and that cycle unwinds instead of trading
    fast, slow = report(tmp_path / "fast"), report(tmp_path / "slow")
    assert [t["futures_price_gbp"] for t in fast["trades"]] == ["71.9640", "70.4648"]
    assert [t["futures_price_gbp"] for t in slow["trades"]] == ["70.4648"]  # only the later change trades
    assert slow["unwound_by_reason"] == {"futures_rejected": 1}
