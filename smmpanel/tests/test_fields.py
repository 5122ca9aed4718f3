import pytest

from smmpanel import fields
from smmpanel.errors import InvalidParameter, MissingParameters, TooManyIds


@pytest.mark.parametrize("value", ["1000", " 1000 ", 1000, "0"])
def test_integers_accept_digits_and_json_integers(value):
    assert fields.integer("quantity", value) == int(str(value).strip())


@pytest.mark.parametrize("value", ["1e3", "10.5", "1000.0", "-5", "abc", True, 10.5, -5, "", "+5", "1_000", "١٢", "9" * 19, [1], None])
def test_integers_refuse_everything_else(value):
    with pytest.raises(InvalidParameter, match="^Invalid parameter: quantity$"):
        fields.integer("quantity", value)


def test_text_refuses_control_characters_but_lists_allow_line_breaks():
    with pytest.raises(InvalidParameter):
        fields.text("link", "a\x00b")
    with pytest.raises(InvalidParameter):
        fields.text("link", "a\nb")
    assert fields.lines("comments", " nice \r\n\r\n great\n") == ["nice", "great"]
    with pytest.raises(InvalidParameter):
        fields.lines("comments", "a\x00b")


def test_id_lists_keep_order_drop_repeats_and_mark_malformed_ids():
    assert fields.id_list("orders", "3, 1,3,abc,,") == [("3", 3), ("1", 1), ("abc", None)]
    assert fields.id_list("orders", [5, "6", 5]) == [("5", 5), ("6", 6)]
    with pytest.raises(MissingParameters):
        fields.id_list("orders", " , ")
    with pytest.raises(TooManyIds):
        fields.id_list("orders", ",".join(str(n) for n in range(101)))
    assert len(fields.id_list("orders", ",".join(str(n) for n in range(100)))) == 100


def test_every_field_has_its_length_limit_in_one_table():
    for name, limit in fields.MAX_LENGTH.items():
        if name in {"orders", "refills"}:
            continue
        multiline = name in {"comments", "usernames", "keywords", "hashtags"}
        assert fields.text(name, "a" * limit, multiline=multiline) == "a" * limit
        # trimmed first: surrounding blanks do not count
        assert fields.text(name, f"  {'a' * limit}  ", multiline=multiline) == "a" * limit
        with pytest.raises(InvalidParameter, match=f"^Invalid parameter: {name}$"):
            fields.text(name, "a" * (limit + 1), multiline=multiline)
    # a field without its own entry gets the default
    assert fields.max_length("something_new") == fields.DEFAULT_MAX_LENGTH
    with pytest.raises(InvalidParameter):
        fields.lines("comments", ["x" * 60_000, "y" * 60_000])


@pytest.mark.parametrize("value", ["a\ud800b", "\udfff", "a\x7fb", "a\x1bb", {"a": 1}, ["a"], 1.5, True, None])
def test_text_refuses_lone_surrogates_controls_and_other_types(value):
    with pytest.raises(InvalidParameter, match="^Invalid parameter: username$"):
        fields.text("username", value)


def test_id_lists_refuse_malformed_fields_but_count_ids_first():
    for value in ({"1": 2}, [1, [2]], [1, None], [1.5], 1.5, "1,\x002", ["1\ud800"], True):
        with pytest.raises(InvalidParameter, match="^Invalid parameter: orders$"):
            fields.id_list("orders", value)
    # over 100 ids is always "too many", however long the text
    with pytest.raises(TooManyIds):
        fields.id_list("orders", ",".join(str(10**17 + n) for n in range(1000)))
    # 100 ids of 18 digits with spaces fit; 100 ids of 50 characters do not
    assert len(fields.id_list("orders", ", ".join(str(10**17 + n) for n in range(100)))) == 100
    with pytest.raises(InvalidParameter):
        fields.id_list("orders", ",".join(f"{n:050d}" for n in range(100)))
    # an array of ids is read like the comma-separated text
    assert fields.id_list("orders", [1, "2", "1,3"]) == [("1", 1), ("2", 2), ("3", 3)]
