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
