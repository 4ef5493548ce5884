"""The data contract: loaders, mapping files and validation at the door (cxroi.data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxroi.data import Mapping, from_frames, load, load_mapping, mapping_from_dict
from cxroi.demo import generate_demo
from cxroi.errors import DataError

REPO = Path(__file__).resolve().parents[1]
#: CI keeps the shared data next to the checkout (../shared/data); the helpers' machines at
#: /work/shared/data.
SHARED_DATA = next((d for d in (REPO.parent / "shared" / "data", Path("/work/shared/data"))
                    if d.is_dir()), REPO.parent / "shared" / "data")
ECOMMERCE = SHARED_DATA / "ecommerce_churn.xlsx"


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return generate_demo(seed=11, n_accounts=400)


def write_csv(frames: dict[str, pd.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        df.to_csv(folder / f"{name}.csv", index=False)
    return folder


def copy(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {k: v.copy() for k, v in frames.items()}


def test_clean_csv_folder_loads_with_typed_columns(frames, tmp_path):
    data = load(write_csv(frames, tmp_path / "d"))
    assert data.shape == "tables"
    assert data.n_rows() == {k: len(v) for k, v in frames.items()}
    t = data.tables["tickets"]
    assert pd.api.types.is_datetime64_any_dtype(t["opened_at"])
    assert t["contacts"].dtype == float
    # spreadsheet row numbers: the header is row 1, so the first data row is row 2
    assert t["_row"].iloc[0] == 2 and t["_row"].iloc[-1] == len(t) + 1


def test_parquet_excel_and_duckdb_load_the_same_tables(frames, tmp_path):
    pq = tmp_path / "pq"
    pq.mkdir()
    for name, df in frames.items():
        df.to_parquet(pq / f"{name}.parquet")
    xlsx = tmp_path / "company.xlsx"
    small = {k: v.head(300) for k, v in frames.items()}
    small["accounts"] = frames["accounts"]
    with pd.ExcelWriter(xlsx) as xw:
        for name, df in small.items():
            df.to_excel(xw, sheet_name=name, index=False)
    a = load(pq)
    b = load(xlsx)
    assert a.n_rows() == {k: len(v) for k, v in frames.items()}
    assert b.n_rows()["tickets"] == 300
    assert a.tables["tickets"]["_row"].iloc[0] == 1  # parquet: 1-based record numbers
    assert b.tables["tickets"]["_row"].iloc[0] == 2  # excel: spreadsheet rows
    duckdb = pytest.importorskip("duckdb", reason="duckdb is an optional dependency")
    db = tmp_path / "company.duckdb"
    con = duckdb.connect(str(db))
    for name, df in frames.items():
        con.register("frame", df)
        con.execute(f"create table {name} as select * from frame")
        con.unregister("frame")
    con.close()
    c = load(db)
    assert c.n_rows() == a.n_rows()


def test_mapping_renames_parses_dates_and_decodes(frames, tmp_path):
    f = copy(frames)
    f["accounts"] = f["accounts"].rename(columns={"account_id": "Customer No", "segment": "Tier"})
    f["accounts"]["Tier"] = f["accounts"]["Tier"].map({"Enterprise": "ENT", "Mid-market": "MM", "SMB": "smb"})
    f["accounts"]["start_date"] = f["accounts"]["start_date"].dt.strftime("%d/%m/%Y")
    folder = write_csv(f, tmp_path / "m")
    # a header on the third line, as exported by some tools
    acc = (folder / "accounts.csv").read_text()
    (folder / "accounts.csv").write_text("Export of 2025-12-31\n\n" + acc)
    m = mapping_from_dict({
        "name": "Acme",
        "tables": {"accounts": {
            "header_row": 3,
            "columns": {"account_id": "Customer No", "segment": "Tier"},
            "dates": {"start_date": "%d/%m/%Y"},
            "codes": {"segment": {"ENT": "Enterprise", "MM": "Mid-market", "SMB": "SMB"}},
        }},
    })
    data = load(folder, m)
    acc = data.tables["accounts"]
    assert set(acc["segment"]) == {"Enterprise", "Mid-market", "SMB"}  # 'smb' matched case-insensitively
    assert acc["start_date"].notna().all()
    assert acc["_row"].iloc[0] == 4
    assert data.name == "Acme"


def test_mapping_file_errors_name_the_key_and_suggest(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("tables:\n  tickets:\n    colums: {}\n  ticket: {}\n")
    with pytest.raises(DataError) as exc:
        load_mapping(p)
    text = str(exc.value)
    assert "colums" in text and "did you mean 'columns'" in text
    assert "did you mean 'tickets'" in text
    with pytest.raises(DataError, match="mapping file not found"):
        load_mapping(tmp_path / "nope.yaml")


def _expect(frames, match: str) -> DataError:
    with pytest.raises(DataError, match=match) as exc:
        from_frames(frames)
    return exc.value


def test_missing_column(frames):
    f = copy(frames)
    f["accounts"] = f["accounts"].drop(columns="revenue")
    err = _expect(f, "missing column 'revenue'")
    assert "accounts" in err.problems[0].where


def test_wrong_type_names_table_column_and_row(frames):
    f = copy(frames)
    f["accounts"]["revenue"] = f["accounts"]["revenue"].astype(object)
    f["accounts"].loc[4, "revenue"] = "12k"
    err = _expect(f, "wrong type")
    assert err.problems[0].where == "accounts record 5, column revenue"
    assert "plain numbers" in err.problems[0].fix


def test_unparseable_date_csv_row_numbers(frames, tmp_path):
    f = copy(frames)
    f["tickets"]["opened_at"] = f["tickets"]["opened_at"].astype(str)
    f["tickets"].loc[9, "opened_at"] = "31/02/2024"
    folder = write_csv(f, tmp_path / "bad")
    with pytest.raises(DataError, match="unparseable date") as exc:
        load(folder)
    # record 10 of the table is spreadsheet row 11 (header on row 1)
    assert "tickets row 11, column opened_at" in str(exc.value)


def test_resolved_before_opened(frames):
    f = copy(frames)
    t = f["tickets"]
    t.loc[3, "resolved_at"] = t.loc[3, "opened_at"] - pd.Timedelta(days=2)
    _expect(f, "resolved before opened")


def test_duplicate_ids(frames):
    f = copy(frames)
    f["tickets"].loc[5, "ticket_id"] = f["tickets"].loc[4, "ticket_id"]
    err = _expect(f, "duplicate id")
    assert "records 5, 6" in err.problems[0].where


def test_tickets_of_unknown_accounts(frames):
    f = copy(frames)
    f["tickets"].loc[0, "account_id"] = "NOPE-1"
    _expect(f, r"unknown account \['NOPE-1'\]")


def test_nps_outside_0_10(frames):
    f = copy(frames)
    answered = f["surveys"].index[f["surveys"]["nps"].notna()][0]
    f["surveys"].loc[answered, "nps"] = 11
    _expect(f, "NPS outside 0-10")


def test_empty_segment(frames):
    f = copy(frames)
    f["accounts"].loc[7, "segment"] = "  "
    err = _expect(f, "empty segment")
    assert "record 8" in err.problems[0].where


def test_every_problem_is_reported_at_once(frames):
    f = copy(frames)
    f["accounts"].loc[7, "segment"] = None
    f["tickets"].loc[0, "account_id"] = "NOPE-1"
    f["orders"].loc[1, "order_id"] = f["orders"].loc[0, "order_id"]
    f["surveys"] = f["surveys"].drop(columns="sent_at")
    with pytest.raises(DataError) as exc:
        from_frames(f)
    msgs = " | ".join(p.message for p in exc.value.problems)
    for expected in ("empty segment", "unknown account", "duplicate id", "missing column 'sent_at'"):
        assert expected in msgs


def test_open_tickets_and_unanswered_surveys_are_counted_not_dropped(frames):
    from cxroi.calibrate import prepare

    data = from_frames(copy(frames))
    prep = prepare(data)
    ex = data.exclusions_frame()
    open_rule = ex.loc[ex["rule"].str.contains("still open")]
    n_open = int(frames["tickets"]["resolved_at"].isna().sum())
    assert n_open > 0 and int(open_rule["rows"].iloc[0]) == n_open
    assert len(prep.complaints) + n_open == len(frames["tickets"])


def test_no_data_given_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no file for the accounts table"):
        load(tmp_path / "empty")


@pytest.mark.skipif(not ECOMMERCE.is_file(), reason=f"real data not found at {ECOMMERCE} (shared/ absent)")
def test_real_ecommerce_xlsx_loads_with_its_mapping():
    data = load(ECOMMERCE, REPO / "data" / "mappings" / "ecommerce_churn.yaml")
    c = data.tables["customers"]
    assert data.shape == "customers" and len(c) == 5630
    assert c["_row"].iloc[0] == 3  # header on spreadsheet row 2
    assert set(c["churn"].unique()) == {0.0, 1.0}
    assert c["tenure_months"].isna().sum() == 264  # gaps kept, not dropped
    assert set(c["segment"]) == {"City tier 1", "City tier 2", "City tier 3"}
    assert "CC" not in set(c["PreferredPaymentMode"]) and "Credit Card" in set(c["PreferredPaymentMode"])
    assert "Phone" not in set(c["PreferredLoginDevice"])
    assert "Mobile" not in set(c["PreferedOrderCat"])


@pytest.mark.skipif(not ECOMMERCE.is_file(), reason=f"real data not found at {ECOMMERCE} (shared/ absent)")
def test_real_xlsx_without_header_row_points_at_the_header_row():
    m = Mapping.model_validate({"shape": "customers", "tables": {"customers": {
        "sheet": "E Comm", "columns": {"customer_id": "CustomerID", "churn": "Churn"}}}})
    with pytest.raises(DataError, match="header_row: 2") as exc:
        load(ECOMMERCE, m)
    assert any("customer_id" in p.message and "churn" in p.message for p in exc.value.problems)


def test_customers_shape_flags_and_ranges(tmp_path):
    df = pd.DataFrame({"id": [1, 2, 3, 4], "left": ["yes", "no", "maybe", "no"],
                       "tenure": [3, -1, 5, np.nan]})
    p = tmp_path / "c.csv"
    df.to_csv(p, index=False)
    m = mapping_from_dict({"shape": "customers", "tables": {"customers": {
        "columns": {"customer_id": "id", "churn": "left", "tenure_months": "tenure"}}}})
    with pytest.raises(DataError) as exc:
        load(p, m)
    text = str(exc.value)
    assert "customers row 4, column churn" in text and "0/1 flag" in text
    assert "customers row 3, column tenure_months" in text


def test_arrow_key_helpers_equal_pandas_lookups():
    # ids stay Arrow strings at scale: the lookups must agree with pandas' own on object,
    # Arrow and integer ids, with missing values and repeats
    from cxroi.data.keys import duplicated, positions

    keys = pd.Series(["A1", "A2", "A3", "A10"], dtype=object)
    vals = pd.Series(["A3", None, "A9", "A1", "A10", "A3"], dtype=object)
    want = pd.Index(keys).get_indexer(vals.fillna("<none>"))
    for k, v in [(keys, vals), (keys.astype("string[pyarrow]"), vals.astype("string[pyarrow]"))]:
        assert positions(v, k).tolist() == want.tolist() == [2, -1, -1, 0, 3, 2]
        assert duplicated(v).tolist() == (vals.duplicated(keep=False) & vals.notna()).tolist()
    assert positions(pd.Series([5, 7, 9]), pd.Series(["9", "5"], dtype="string[pyarrow]")).tolist() == [1, -1, 0]
    assert not duplicated(keys).any()


def test_window_dates_as_the_docs_write_them(tmp_path):
    """``options.window_start: 2023-01-01`` unquoted (docs/calibration.md's example) is a
    YAML date: it was refused ("input should be a valid string"); it is read as the date."""
    p = tmp_path / "m.yaml"
    p.write_text("options:\n  window_start: 2023-01-01\n  window_end: 2025-12-31\n")
    m = load_mapping(p)
    assert (m.options.window_start, m.options.window_end) == ("2023-01-01", "2025-12-31")
    assert pd.Timestamp(m.options.window_start) == pd.Timestamp(2023, 1, 1)
    quoted = mapping_from_dict({"options": {"window_start": "2023-01-01"}})
    assert quoted.options.window_start == m.options.window_start


def test_stray_dates_named_but_history_and_a_chosen_window_are_not(frames):
    """One date far from the others is a problem (it would set the data window); an account
    that left long before the events, or a stray outside options.window_start, is not."""
    from cxroi.data.mapping import Options

    f = copy(frames)
    f["tickets"].loc[4, "opened_at"] = pd.Timestamp("2001-03-01")
    with pytest.raises(DataError, match=r"tickets record 5, column opened_at: date far from the "
                                        r"rest of the data \['2001-03-01'\]"):
        from_frames(f)
    first = min(f[t][c].min() for t, c in [("tickets", "resolved_at"), ("orders", "date"),
                                           ("surveys", "sent_at")])
    ok = from_frames(f, Mapping(options=Options(window_start=str(first.date()))))
    assert len(ok.tables["tickets"]) == len(f["tickets"])
    g = copy(frames)
    a = g["accounts"]
    gone = a.index[a["end_date"].notna()][:2]
    a.loc[gone, "start_date"] = pd.Timestamp("2009-01-01")
    a.loc[gone, "end_date"] = pd.Timestamp("2012-06-30")
    assert from_frames(g).tables["accounts"]["end_date"].min() == pd.Timestamp("2012-06-30")
