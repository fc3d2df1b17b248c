"""csvstream: Marketo bulk files parsed row by row from bytes, dirt and all."""
from __future__ import annotations

import csv
import io

import pytest

from connectors_marketo.csvstream import BadRowError, CleanBytes, CsvRows, read_rows


def rows(data: bytes, fmt: str = "CSV", **options):
    return list(read_rows(io.BytesIO(data), fmt, **options))


def test_rows_are_dicts_keyed_by_the_header_and_null_is_none():
    data = b"id,email,firstName\n1,a@x.com,Ann\n2,null,Bob\n"
    assert rows(data) == [{"id": "1", "email": "a@x.com", "firstName": "Ann"},
                          {"id": "2", "email": None, "firstName": "Bob"}]


def test_quoted_values_keep_delimiters_quotes_and_newlines():
    data = 'id,company,notes\n1,"Acme, Inc","said ""hi""\nthen left"\n2,Initech,null\n'.encode()
    assert rows(data) == [{"id": "1", "company": "Acme, Inc", "notes": 'said "hi"\nthen left'},
                          {"id": "2", "company": "Initech", "notes": None}]


def test_nul_bytes_and_carriage_returns_are_dropped_anywhere():
    data = b"id,name\r\n1,An\x00n\r\r\n2,\"Line\r\none\"\r\n3,Bo\rb\n"
    assert rows(data) == [{"id": "1", "name": "Ann"}, {"id": "2", "name": "Line\none"}, {"id": "3", "name": "Bob"}]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 1 << 16])
def test_multibyte_text_split_across_chunks_decodes_whole(chunk_size):
    text = 'id,company,title\n1,株式会社サクラ,"東京\n本社"\n2,Société Lumière,Ünïcödé 🎉\n'
    parsed = list(CsvRows(io.BytesIO(text.encode()), chunk_size=chunk_size))
    assert parsed == [{"id": "1", "company": "株式会社サクラ", "title": "東京\n本社"},
                      {"id": "2", "company": "Société Lumière", "title": "Ünïcödé 🎉"}]


def test_a_misaligned_row_is_reported_not_shifted():
    data = "id,company,city\n1,Acme,Paris\n2,株式会社,サクラ,Tokyo\n3,Initech\n4,Globex,Berlin\n".encode()
    bad = []
    reader = CsvRows(io.BytesIO(data), on_bad_row=bad.append)
    good = list(reader)
    assert [r["id"] for r in good] == ["1", "4"]
    assert good[1] == {"id": "4", "company": "Globex", "city": "Berlin"}
    assert [(b.row_number, b.values, b.expected_columns) for b in bad] == [
        (2, ["2", "株式会社", "サクラ", "Tokyo"], 3), (3, ["3", "Initech"], 3)]
    assert reader.rows_read == 4 and reader.bad_rows == 2


def test_a_misaligned_row_raises_when_nobody_handles_it():
    with pytest.raises(BadRowError) as caught:
        rows(b"a,b\n1,2\n3,4,5\n")
    assert caught.value.bad_row.row_number == 2 and "3 columns" in str(caught.value)


def test_skip_consumes_rows_without_yielding_or_reporting_them():
    data = b"id,v\n1,a\n2,b,extra\n3,c\n4,d\n"
    bad = []
    reader = CsvRows(io.BytesIO(data), skip=2, on_bad_row=bad.append)
    assert [r["id"] for r in reader] == ["3", "4"]
    assert bad == [] and reader.rows_read == 4


@pytest.mark.parametrize("fmt, delimiter", [("TSV", "\t"), ("SSV", ";"), ("csv", ",")])
def test_tsv_and_ssv(fmt, delimiter):
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\n")
    writer.writerows([["id", "name"], ["1", f"Ann{delimiter} Jr, Esq; \t"]])
    assert rows(text.getvalue().encode(), fmt) == [{"id": "1", "name": f"Ann{delimiter} Jr, Esq; \t"}]


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        rows(b"a\n1\n", "XLS")


def test_blank_lines_bom_and_empty_files():
    assert rows(b"\xef\xbb\xbfid,name\n\n1,Ann\n\n") == [{"id": "1", "name": "Ann"}]
    assert rows(b"") == []
    reader = CsvRows(io.BytesIO(b"id,name\n"))
    assert list(reader) == [] and reader.header == ["id", "name"]


def test_invalid_utf8_is_replaced_not_fatal():
    assert rows(b"id,name\n1,Bad\xff\xfebyte\n") == [{"id": "1", "name": "Bad\ufffd\ufffdbyte"}]


def test_clean_bytes_leaves_the_underlying_stream_open():
    raw = io.BytesIO(b"a\x00b\rc")
    clean = CleanBytes(raw, chunk_size=2)
    assert clean.read() == b"abc"
    clean.close()
    assert not raw.closed
