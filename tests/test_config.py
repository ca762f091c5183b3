"""``[tool.flaxprec]``: every key, every error, ruff's selection semantics, per-file-ignores, discovery."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from flaxprec.config import (
    DEFAULT_EXCLUDE,
    ConfigError,
    LayerConfig,
    Settings,
    find_config,
    load_settings,
    validate_codes,
)

KNOWN = ("FLX001", "FLX002", "FLX003", "FLX004", "FLX005", "FLX006", "FLX007", "FLX101", "FLX102", "FLX901")


def write_config(directory: Path, body: str, *, name: str = "pyproject.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def load(tmp_path: Path, body: str) -> Settings:
    return load_settings(write_config(tmp_path, "[tool.flaxprec]\n" + textwrap.dedent(body)))


def selected(
    settings: Settings, codes: tuple[str, ...] = KNOWN, default_off: tuple[str, ...] = ()
) -> list[str]:
    return [c for c in codes if settings.is_selected(c, default_on=c not in default_off)]


# -- loading every key -------------------------------------------------------------------------------------


def test_every_key_is_read(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
        select = ["FLX0"]
        extend-select = ["FLX101"]
        ignore = ["FLX003"]
        per-file-ignores = { "tests/**" = ["FLX001"], "__init__.py" = ["ALL"] }
        exclude = ["generated"]
        extend-exclude = ["third_party/"]
        respect-gitignore = false
        unsafe-fixes = true
        allow-half-params = true
        noqa-blanket-unused = true
        preview = true

        [tool.flaxprec.layers]
        "mypkg.layers.ParallelDense" = { dtype = 2, param_dtype = 3, kind = "dense" }
        "mypkg.layers.Head" = { dtype = -1 }
        """,
    )
    assert settings.root == tmp_path
    assert settings.config_path == tmp_path / "pyproject.toml"
    assert settings.select == ("FLX0",)
    assert settings.extend_select == ("FLX101",)
    assert settings.ignore == ("FLX003",)
    assert settings.per_file_ignores == (("tests/**", ("FLX001",)), ("__init__.py", ("ALL",)))
    assert settings.exclude == ("generated",)
    assert settings.extend_exclude == ("third_party/",)
    assert settings.respect_gitignore is False
    assert settings.unsafe_fixes is True
    assert settings.allow_half_params is True
    assert settings.noqa_blanket_unused is True
    assert settings.preview is True
    assert settings.layers == (
        LayerConfig("mypkg.layers.ParallelDense", 2, 3, "dense"),
        LayerConfig("mypkg.layers.Head", -1, None, None),
    )
    assert settings.catalogue_extra() == {
        "mypkg.layers.ParallelDense": {"dtype": 2, "param_dtype": 3, "kind": "dense"},
        "mypkg.layers.Head": {"dtype": -1},
    }


def test_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path, "")
    assert settings.select is None
    assert settings.extend_select == settings.ignore == ()
    assert settings.per_file_ignores == ()
    assert settings.exclude == DEFAULT_EXCLUDE
    assert settings.respect_gitignore is True
    assert settings.unsafe_fixes is settings.allow_half_params is settings.preview is False
    assert settings.noqa_blanket_unused is False
    assert settings.layers == ()


def test_layers_work_with_the_catalogue(tmp_path: Path) -> None:
    from flaxprec.catalogue import load_catalogue

    settings = load(
        tmp_path,
        """
        [tool.flaxprec.layers]
        "mypkg.layers.ParallelDense" = { dtype = 2, param_dtype = 3 }
        """,
    )
    spec = load_catalogue().with_extra(settings.catalogue_extra()).lookup("mypkg.layers.ParallelDense")
    assert spec is not None
    assert (spec.dtype_index, spec.param_dtype_index) == (2, 3)


# -- errors: each names the file, the key and what was expected --------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('selct = ["FLX001"]', "unknown key `selct`; did you mean `select`?"),
        ("extend_select = []", "unknown key `extend_select`; did you mean `extend-select`?"),
        ("colour = true", "unknown key `colour` (known keys: select, extend-select, ignore,"),
        ('select = "FLX001"', "`select`: expected a list of rule codes or prefixes"),
        (
            "ignore = [1]",
            '`ignore`: expected a list of rule codes or prefixes (e.g. ["FLX001", "FLX1"]), '
            "got an array containing an integer (1)",
        ),
        (
            'extend-select = ["E501"]',
            "`extend-select`: invalid rule selector `E501`: expected a code such as",
        ),
        (
            'select = ["flx001"]',
            "invalid rule selector `flx001`: expected a code such as `FLX001`, a prefix "
            "such as `FLX0`, or `ALL` (codes are upper case: `FLX001`)",
        ),
        ('select = ["FL"]', "invalid rule selector `FL`"),
        (
            'exclude = "build"',
            "`exclude`: expected a list of gitignore-style patterns, got a string ('build')",
        ),
        ("extend-exclude = [true]", "`extend-exclude`: expected a list of gitignore-style patterns"),
        (
            'respect-gitignore = "yes"',
            "`respect-gitignore`: expected a boolean (true or false), got a string",
        ),
        ("unsafe-fixes = 1", "`unsafe-fixes`: expected a boolean (true or false), got an integer"),
        ("allow-half-params = []", "`allow-half-params`: expected a boolean"),
        ("preview = 0", "`preview`: expected a boolean"),
        (
            'noqa-blanket-unused = "yes"',
            "`noqa-blanket-unused`: expected a boolean (true or false), got a string",
        ),
        (
            'per-file-ignores = ["tests/*"]',
            "`per-file-ignores`: expected a table of glob -> list of rule codes",
        ),
        ('per-file-ignores = { "tests/*" = "FLX001" }', "`per-file-ignores` (`tests/*`): expected a list"),
        ('per-file-ignores = { "tests/*" = ["X1"] }', "(`tests/*`): invalid rule selector `X1`"),
        ("layers = 3", "`layers`: expected a table of qualified name -> { dtype = int, param_dtype = int"),
        ('layers = { "ParallelDense" = { dtype = 2 } }', "expected a qualified name such as"),
        (
            'layers = { "a.B" = 2 }',
            "(`a.B`): expected a table { dtype = int, param_dtype = int, kind = str }",
        ),
        ('layers = { "a.B" = { dtype = "2" } }', "(`a.B`): `dtype` must be an integer: its positional index"),
        ('layers = { "a.B" = { param_dtype = -2 } }', "`param_dtype` must be an integer"),
        ('layers = { "a.B" = { dtype = true } }', "`dtype` must be an integer"),
        ('layers = { "a.B" = { dtype = 2, param_dtype = 2 } }', "cannot share positional index 2"),
        ('layers = { "a.B" = { kind = "linear" } }', "`kind` must be one of activation, attention, conv"),
        (
            'layers = { "a.B" = { dtyp = 1 } }',
            "(`a.B`): unknown key `dtyp` (known keys: dtype, param_dtype, kind)",
        ),
    ],
)
def test_bad_config_is_an_error_naming_file_and_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load(tmp_path, body)
    text = str(excinfo.value)
    assert text.startswith(str(tmp_path / "pyproject.toml") + ": ")
    assert message in text


def test_tool_flaxprec_must_be_a_table(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[tool]\nflaxprec = 3\n")
    with pytest.raises(ConfigError, match=r"`tool.flaxprec` must be a table, got an integer"):
        load_settings(path)


def test_invalid_toml(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[tool.flaxprec\nselect = [\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: invalid TOML: "):
        load_settings(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"configuration file not found"):
        load_settings(tmp_path / "nope.toml")


def test_explicit_config_without_table_gives_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[project]\nname = "x"\n')
    settings = load_settings(path)
    assert settings.config_path == path
    assert settings.root == tmp_path
    assert settings.select is None


# -- unknown codes (validated against the registry) --------------------------------------------------------


def test_validate_codes_accepts_codes_prefixes_and_all() -> None:
    validate_codes(["FLX001", "FLX0", "FLX", "FLX9", "ALL"], KNOWN)


def test_validate_codes_rejects_unknown_code_with_suggestion() -> None:
    with pytest.raises(
        ConfigError, match=r"^--select: unknown rule selector `FLX0001` \(did you mean `FLX001`\?\)$"
    ):
        validate_codes(["FLX0001"], KNOWN, where="--select")


def test_validate_codes_rejects_prefix_matching_nothing() -> None:
    with pytest.raises(ConfigError, match=r"unknown rule selector `FLX5`"):
        validate_codes(["FLX5"], KNOWN)


def test_settings_validate_names_the_key(tmp_path: Path) -> None:
    settings = load(tmp_path, 'ignore = ["FLX099"]')
    with pytest.raises(ConfigError) as excinfo:
        settings.validate(KNOWN)
    assert str(excinfo.value).startswith(
        f"{tmp_path / 'pyproject.toml'}: [tool.flaxprec] `ignore`: unknown rule"
    )


def test_settings_validate_per_file_ignores_and_cli(tmp_path: Path) -> None:
    settings = load(tmp_path, 'per-file-ignores = { "a.py" = ["FLX8"] }')
    with pytest.raises(ConfigError, match=r"`per-file-ignores` \(`a.py`\): unknown rule selector `FLX8`"):
        settings.validate(KNOWN)
    cli = Settings().with_overrides(extend_select=["FLX777"])
    with pytest.raises(ConfigError, match=r"^--extend-select: unknown rule selector `FLX777`"):
        cli.validate(KNOWN)
    load(tmp_path, 'select = ["ALL"]\nignore = ["FLX1"]').validate(KNOWN)


# -- rule selection: ruff's semantics ----------------------------------------------------------------------


def test_default_set_is_default_on_rules() -> None:
    assert selected(Settings(), default_off=("FLX101", "FLX901")) == [
        c for c in KNOWN if c not in ("FLX101", "FLX901")
    ]


def test_select_replaces_the_default_set() -> None:
    settings = Settings(select=("FLX002",))
    assert selected(settings) == ["FLX002"]


def test_select_prefix_includes_opt_in_rules() -> None:
    settings = Settings(select=("FLX1",))
    assert selected(settings, default_off=("FLX101", "FLX102")) == ["FLX101", "FLX102"]


def test_extend_select_adds_to_defaults() -> None:
    settings = Settings(extend_select=("FLX101",))
    assert selected(settings, default_off=("FLX101", "FLX102", "FLX901")) == [
        "FLX001", "FLX002", "FLX003", "FLX004", "FLX005", "FLX006", "FLX007", "FLX101"
    ]  # fmt: skip


def test_ignore_removes() -> None:
    settings = Settings(ignore=("FLX00",))
    assert selected(settings) == ["FLX101", "FLX102", "FLX901"]


def test_all_selects_everything_and_specific_ignore_wins() -> None:
    settings = Settings(select=("ALL",), ignore=("FLX9",))
    assert selected(settings, default_off=("FLX101", "FLX102", "FLX901")) == list(KNOWN[:-1])


def test_more_specific_select_beats_broader_ignore() -> None:
    settings = Settings(select=("FLX001",), ignore=("FLX0",))
    assert selected(settings) == ["FLX001"]
    settings = Settings(extend_select=("FLX002",), ignore=("FLX",))
    assert selected(settings) == ["FLX002"]


def test_more_specific_ignore_beats_broader_select() -> None:
    settings = Settings(select=("FLX0",), ignore=("FLX001",))
    assert selected(settings) == ["FLX002", "FLX003", "FLX004", "FLX005", "FLX006", "FLX007"]


def test_equal_specificity_ignore_wins() -> None:
    assert not Settings(select=("FLX001",), ignore=("FLX001",)).is_selected("FLX001", True)
    assert not Settings(select=("ALL",), ignore=("ALL",)).is_selected("FLX001", True)


def test_cli_select_overrides_config_select_and_ignore() -> None:
    # ruff's documented example: config select E,F ignore F401; `--select F401` enforces F401 only.
    config = Settings(select=("FLX0",), ignore=("FLX001",))
    settings = config.with_overrides(select=["FLX001"])
    assert selected(settings) == ["FLX001"]


def test_cli_extend_select_and_ignore_layer_on_config() -> None:
    config = Settings(select=("FLX0",), ignore=("FLX001",))
    # Layered, not merged: the CLI's extend-select re-enables what the config's ignore removed.
    assert selected(config.with_overrides(extend_select=["FLX001"])) == [f"FLX00{i}" for i in range(1, 8)]
    assert selected(config.with_overrides(ignore=["FLX002,FLX003"])) == [
        "FLX004",
        "FLX005",
        "FLX006",
        "FLX007",
    ]


def test_empty_select_keeps_its_ignores_for_next_layer() -> None:
    settings = Settings(select=(), ignore=("FLX001",)).with_overrides(extend_select=["FLX0"])
    assert selected(settings) == ["FLX002", "FLX003", "FLX004", "FLX005", "FLX006", "FLX007"]


def test_cli_empty_values_mean_not_given() -> None:
    # click passes () for an unused `multiple=True` option: that must not select nothing.
    settings = Settings(select=("FLX001",))
    assert settings.with_overrides(select=(), ignore=(), extend_select=()) == settings
    assert selected(settings.with_overrides(select=())) == ["FLX001"]


def test_cli_selector_syntax_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"^--ignore: invalid rule selector `E501`"):
        Settings().with_overrides(ignore=["FLX001,E501"])


def test_preview_rules_need_preview() -> None:
    assert not Settings(select=("ALL",)).is_selected("FLX102", True, is_preview=True)
    assert Settings(select=("ALL",), preview=True).is_selected("FLX102", True, is_preview=True)
    assert Settings().with_overrides(preview=True).is_selected("FLX102", True, is_preview=True)


def test_boolean_overrides() -> None:
    settings = Settings(unsafe_fixes=True).with_overrides(
        unsafe_fixes=None, preview=True, allow_half_params=True
    )
    assert (settings.unsafe_fixes, settings.preview, settings.allow_half_params) == (True, True, True)
    assert Settings(unsafe_fixes=True).with_overrides(unsafe_fixes=False).unsafe_fixes is False


# -- per-file-ignores --------------------------------------------------------------------------------------


def test_per_file_ignores_match_relative_to_config_dir(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
        [tool.flaxprec.per-file-ignores]
        "tests/*.py" = ["FLX001"]
        "__init__.py" = ["FLX0"]
        "scripts/**" = ["ALL"]
        "!src/**" = ["FLX005"]
        """,
    )
    src = tmp_path / "src" / "pkg"
    assert settings.is_selected("FLX001", True, filename=str(src / "model.py"))
    assert not settings.is_selected("FLX001", True, filename=str(tmp_path / "tests" / "test_a.py"))
    # `tests/*.py` is anchored at the config's directory and `*` does not cross `/`.
    assert settings.is_selected("FLX001", True, filename=str(tmp_path / "tests" / "sub" / "test_a.py"))
    assert settings.is_selected("FLX001", True, filename=str(tmp_path / "lib" / "tests" / "test_a.py"))
    # A pattern without a slash matches the file name at any depth.
    assert not settings.is_selected("FLX002", True, filename=str(src / "__init__.py"))
    assert settings.is_selected("FLX101", True, filename=str(src / "__init__.py"))
    assert not settings.is_selected("FLX901", True, filename=str(tmp_path / "scripts" / "a" / "run.py"))
    # Negated: applies to every file outside src/.
    assert settings.is_selected("FLX005", True, filename=str(src / "model.py"))
    assert not settings.is_selected("FLX005", True, filename=str(tmp_path / "other.py"))
    assert settings.ignored_codes_for(str(src / "__init__.py"), KNOWN) == {f"FLX00{i}" for i in range(1, 8)}


def test_per_file_ignores_with_relative_filename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(tmp_path, 'per-file-ignores = { "tests/*.py" = ["FLX001"] }')
    monkeypatch.chdir(tmp_path)
    assert not settings.is_selected("FLX001", True, filename="tests/test_a.py")
    assert not settings.is_selected("FLX001", True, filename="./tests/../tests/test_a.py")


def test_per_file_ignores_do_not_select() -> None:
    settings = Settings(per_file_ignores=(("*.py", ("FLX002",)),))
    assert not settings.is_selected("FLX101", False, filename="a.py")


# -- excludes ----------------------------------------------------------------------------------------------


def test_default_excludes(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path)
    assert settings.is_excluded(tmp_path / ".venv", is_dir=True)
    assert settings.is_excluded(tmp_path / "pkg" / "node_modules" / "x.py", is_dir=False)
    assert settings.is_excluded(tmp_path / "build", is_dir=True)
    assert not settings.is_excluded(tmp_path / "src" / "model.py", is_dir=False)


def test_exclude_replaces_and_extend_exclude_adds(tmp_path: Path) -> None:
    settings = load(tmp_path, 'exclude = ["gen_*.py"]\nextend-exclude = ["third_party/", "/top.py"]')
    assert settings.is_excluded(tmp_path / "a" / "gen_model.py", is_dir=False)
    assert not settings.is_excluded(tmp_path / ".venv", is_dir=True)  # the defaults were replaced
    assert settings.is_excluded(tmp_path / "x" / "third_party", is_dir=True)
    assert not settings.is_excluded(tmp_path / "x" / "third_party", is_dir=False)  # `dir/` needs a directory
    assert settings.is_excluded(tmp_path / "top.py", is_dir=False)
    assert not settings.is_excluded(tmp_path / "sub" / "top.py", is_dir=False)


NAMES = ("build", "build2", ".git", ".gitignore", "venv", ".venv", "src", "a.py", "dist-info", "x.build")


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=5),
    st.booleans(),
    st.lists(st.sampled_from(NAMES), max_size=3),
)
def test_plain_name_excludes_match_as_pathspec_does(parts: list[str], is_dir: bool, extra: list[str]) -> None:
    """Plain-name excludes are matched without pathspec; the answers must be pathspec's."""
    import pathspec

    root = Path("/project")
    excludes = Settings(root=root).with_overrides(extend_exclude=extra)
    assert excludes._exclude_names is not None  # the fast path is the one under test
    spec = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_EXCLUDE, *extra])
    rel = "/".join(parts)
    expected = spec.match_file(rel + "/" if is_dir else rel)
    assert excludes.is_excluded(root.joinpath(*parts), is_dir=is_dir) == expected


def test_patterns_that_are_not_plain_names_use_pathspec(tmp_path: Path) -> None:
    for pattern in ("gen_*.py", "third_party/", "/top.py", "!keep", "a/b", "x?", "[ab]"):
        assert Settings(root=tmp_path, extend_exclude=(pattern,))._exclude_names is None, pattern


def test_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(root=tmp_path / "root")
    assert settings.relative_path(tmp_path / "root" / "a" / "b.py") == "a/b.py"
    assert settings.relative_path("root/a/../c.py") == "c.py"
    assert settings.relative_path(tmp_path / "root") == "."
    assert settings.relative_path(tmp_path / "rootless" / "d.py") == "d.py"  # outside: the name only
    assert Settings(root=Path("/")).relative_path("/x/y.py") == "x/y.py"


def test_is_excluded_asks_the_filesystem(tmp_path: Path) -> None:
    (tmp_path / "third_party").mkdir()
    settings = Settings(root=tmp_path, extend_exclude=("third_party/",))
    assert settings.is_excluded(tmp_path / "third_party")


def test_cli_extend_exclude(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path).with_overrides(extend_exclude=["vendored"])
    assert settings.is_excluded(tmp_path / "vendored" / "a.py", is_dir=False)


# -- discovery ---------------------------------------------------------------------------------------------


def test_find_config_walks_up_to_the_table(tmp_path: Path) -> None:
    root = write_config(tmp_path, '[tool.flaxprec]\nselect = ["FLX001"]\n')
    # A package's own pyproject without the table does not hide the project's config above it.
    write_config(tmp_path / "pkg", '[project]\nname = "pkg"\n')
    deep = tmp_path / "pkg" / "src" / "pkg"
    deep.mkdir(parents=True)
    (deep / "model.py").write_text("")
    assert find_config(deep) == root
    assert find_config(deep / "model.py") == root
    settings = load_settings(start=deep / "model.py")
    assert settings.config_path == root
    assert settings.root == tmp_path
    assert settings.select == ("FLX001",)


def test_find_config_nearest_wins(tmp_path: Path) -> None:
    write_config(tmp_path, "[tool.flaxprec]\n")
    inner = write_config(tmp_path / "sub", "[tool.flaxprec]\npreview = true\n")
    assert find_config(tmp_path / "sub") == inner
    assert load_settings(start=tmp_path / "sub").preview is True


def test_find_config_none_gives_defaults_rooted_at_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    if find_config(tmp_path) is not None:  # pragma: no cover - a stray config above the temp dir
        pytest.skip("a pyproject.toml with [tool.flaxprec] exists above the temporary directory")
    settings = load_settings(start=tmp_path)
    assert settings.config_path is None
    assert settings.root == tmp_path
    assert load_settings() == settings


def test_find_config_relative_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, "[tool.flaxprec]\n")
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert find_config(Path(".")) == path


def test_find_config_reports_broken_pyproject(tmp_path: Path) -> None:
    write_config(tmp_path, "[tool.flaxprec\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        find_config(tmp_path)


# -- cache key ---------------------------------------------------------------------------------------------


def test_cache_key_is_stable_and_sensitive(tmp_path: Path) -> None:
    a = load(tmp_path, 'select = ["FLX0"]')
    b = load(tmp_path, 'select = ["FLX0"]')
    assert a.cache_key() == b.cache_key()
    assert len(a.cache_key()) == 64
    assert a.cache_key() != a.with_overrides(ignore=["FLX001"]).cache_key()
    assert a.cache_key() != a.with_overrides(allow_half_params=True).cache_key()
    assert a.cache_key() != load(tmp_path, 'select = ["FLX0"]\npreview = true').cache_key()
    assert a.cache_key() != load(tmp_path, 'select = ["FLX0"]\nnoqa-blanket-unused = true').cache_key()


def test_cache_key_depends_on_the_normalised_root() -> None:
    settings = Settings(root=Path("/project"), select=("FLX001",))
    assert settings.cache_key() == Settings(root=Path("/project/"), select=("FLX001",)).cache_key()
    assert settings.cache_key() != Settings(root=Path("/other"), select=("FLX001",)).cache_key()
