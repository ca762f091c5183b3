"""Construction sites: the line that built each module, however linen built it."""

from __future__ import annotations

from audit_models.harness import audit, site, target

ATTENTION = [f"MultiHeadDotProductAttention_0/{n}" for n in ("key", "out", "query", "value")]

# (module path, class, site marker) for every module that owns a bfloat16 param in sites_model.py.
OWNERS = [
    ("CheckpointDense_0", "Dense", "remat"),  # a lifted transform (nn.remat) built in __call__
    ("Dense_0", "Dense", "compact"),  # compact, inside __call__
    ("Dense_1", "Dense", "helper"),  # built by a helper function: the helper's line
    ("Dense_2", "Dense", "partial"),  # functools.partial of a layer
    *[(path, "DenseGeneral", "attention") for path in ATTENTION],  # built inside flax: its parent's line
    ("Scale_0", "Scale", "custom"),  # a custom module overriding __post_init__
    ("adopted", "Dense", "adopted"),  # built in the factory, passed as a field (flax clones it)
    ("in_setup", "Dense", "setup"),  # built in setup()
    ("layers_0", "Dense", "list"),  # a list of layers built in setup()
    ("layers_1", "Dense", "list"),
]


def test_every_module_is_attributed_to_the_line_that_built_it():
    result = audit(target("sites_model"), "--output-format", "json")
    assert result.exit_code == 1
    got = [(r["path"], r["class"], r["site"]) for r in result.records]
    expected = []
    for path, cls, marker in OWNERS:
        leaves = ["w"] if cls == "Scale" else ["bias", "kernel"]
        expected += [(f"{path}/{leaf}", cls, site("sites_model", marker)) for leaf in leaves]
    # The root's own param: the root is cloned by apply, and keeps the factory's line.
    expected.append(("root_bias", "Sites", site("sites_model", "root")))
    assert got == expected
    assert {r["dtype"] for r in result.records} == {"bfloat16"}
