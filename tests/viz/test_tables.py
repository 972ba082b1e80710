"""Text tables: column widths, alignment, the optional rule under the header."""
from ember.viz import format_table


def test_columns_align_and_the_rule_is_optional():
    lines = format_table(["case", "ratio"], [["mlp", "1.28x"], ["resnet18", 0.74]]).splitlines()
    assert lines == ["case      ratio", "--------  -----", "mlp       1.28x", "resnet18   0.74"]
    assert format_table(["a", "b"], [[1, 22]], rule=False).splitlines() == ["a   b", "1  22"]
