"""Output names, folders, up-to-date checks and overwrite policies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from desktop_app.client.errors import ClientError
from desktop_app.client.output_rules import (
    OutputRuleError,
    OutputRules,
    OverwritePolicy,
    TargetExists,
    is_up_to_date,
    output_path,
    resolve_target,
    validate_template,
)
from desktop_app.client.sources import SourceFile

TAGS = {"artist": "Nina", "album": "Live", "track": "3", "title": "Song"}


def make(path: Path, content: bytes = b"audio") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "template",
    ["{name}", "{artist}/{album}/{track} {title}", "{name} ({format})",
     "Converted/{name}", "{{literal}} {name}", "fixed name"],
)  # fmt: skip
def test_valid_templates_pass(template: str) -> None:
    validate_template(template)


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{nmae}", "unknown field {nmae}"),
        ("{name", "unbalanced"),
        ("name}", "unbalanced"),
        ("{}", "empty field"),
        ("{track:03}", "write it as {track} alone"),
        ("{title!r}", "write it as {title} alone"),
        ("", "empty file name"),
        (" / ", "empty file name"),
        ("../{name}", "cannot leave the output folder"),
        ("{artist}/./{name}", "cannot leave the output folder"),
    ],
)
def test_invalid_templates_are_explained(template: str, words: str) -> None:
    with pytest.raises(OutputRuleError) as raised:
        validate_template(template)

    assert words in str(raised.value)
    assert repr(template) in str(raised.value)
    assert isinstance(raised.value, ClientError)


def test_default_rules_put_output_beside_source(tmp_path: Path) -> None:
    source = SourceFile(tmp_path / "in" / "song.flac")

    target = output_path(source, OutputRules(), ".mp3", "mp3", TAGS)

    assert target == tmp_path / "in" / "song.mp3"


def test_template_makes_tag_folders(tmp_path: Path) -> None:
    rules = OutputRules(
        folder=tmp_path / "out", template="{artist}/{album}/{track} {title}"
    )

    target = output_path(SourceFile(Path("/m/x.flac")), rules, "opus", "opus", TAGS)

    assert target == tmp_path / "out" / "Nina" / "Live" / "03 Song.opus"


def test_missing_tags_fall_back(tmp_path: Path) -> None:
    rules = OutputRules(folder=tmp_path, template="{artist}/{album}/{track} {title}")

    target = output_path(SourceFile(Path("/m/take 1.wav")), rules, ".mp3", "mp3", {})

    assert target == tmp_path / "Unknown artist" / "Unknown album" / "take 1.mp3"


def test_tag_values_never_make_folders(tmp_path: Path) -> None:
    tags = {"artist": "AC/DC", "album": "..", "title": 'What? "Now": <b>|*\\'}
    rules = OutputRules(folder=tmp_path, template="{artist}/{album}/{title}")

    target = output_path(SourceFile(Path("/m/x.flac")), rules, ".mp3", "mp3", tags)

    assert target.relative_to(tmp_path).parts == ("AC_DC", "What_ _Now__ _b.mp3")


def test_leading_dot_and_control_characters_are_removed(tmp_path: Path) -> None:
    tags = {"title": ".hidden\x00\nname "}
    rules = OutputRules(folder=tmp_path, template="{title}")

    target = output_path(SourceFile(Path("/m/x.flac")), rules, ".mp3", "mp3", tags)

    assert target == tmp_path / "hidden__name.mp3"


def test_windows_device_names_are_avoided(tmp_path: Path) -> None:
    rules = OutputRules(folder=tmp_path, template="{artist}/{title}")
    tags = {"artist": "Con", "title": "nul"}

    target = output_path(SourceFile(Path("/m/x.flac")), rules, ".mp3", "mp3", tags)

    assert target == tmp_path / "_Con" / "_nul.mp3"


def test_long_tag_is_shortened(tmp_path: Path) -> None:
    rules = OutputRules(folder=tmp_path, template="{artist}/{title}")
    tags = {"artist": "é" * 300, "title": "t" * 400}

    target = output_path(SourceFile(Path("/m/x.flac")), rules, ".flac", "flac", tags)

    assert all(len(part.encode()) <= 230 for part in target.parts)
    assert target.suffix == ".flac"


def test_missing_track_leaves_no_separator(tmp_path: Path) -> None:
    rules = OutputRules(folder=tmp_path, template="{track} - {title}")

    target = output_path(SourceFile(Path("/m/x.flac")), rules, ".mp3", "mp3", {})

    assert target == tmp_path / "x.mp3"


def test_format_field_and_literal_braces(tmp_path: Path) -> None:
    rules = OutputRules(folder=tmp_path, template="{{{format}}} {name}")

    target = output_path(SourceFile(Path("/m/a.wav")), rules, ".m4a", "alac", {})

    assert target == tmp_path / "{alac} a.m4a"


def test_non_numeric_track_is_kept(tmp_path: Path) -> None:
    rules = OutputRules(folder=tmp_path, template="{track} {title}")
    tags = {"track": "12", "title": "x"}

    assert output_path(SourceFile(Path("a.wav")), rules, ".mp3", "mp3", tags).name == (
        "12 x.mp3"
    )
    tags = {"track": "B2", "title": "x"}
    assert output_path(SourceFile(Path("a.wav")), rules, ".mp3", "mp3", tags).name == (
        "B2 x.mp3"
    )


def test_mirror_tree_repeats_source_folders(tmp_path: Path) -> None:
    root = tmp_path / "Music"
    source = SourceFile(root / "Rock" / "Live" / "a.flac", root)
    mirrored = OutputRules(folder=tmp_path / "out", mirror_tree=True)

    assert output_path(source, mirrored, ".mp3", "mp3", {}) == (
        tmp_path / "out" / "Rock" / "Live" / "a.mp3"
    )
    flat = OutputRules(folder=tmp_path / "out")
    assert output_path(source, flat, ".mp3", "mp3", {}) == tmp_path / "out" / "a.mp3"
    beside = OutputRules(mirror_tree=True)
    assert output_path(source, beside, ".mp3", "mp3", {}) == source.path.with_suffix(
        ".mp3"
    )


def test_output_path_rejects_invalid_template(tmp_path: Path) -> None:
    rules = OutputRules(template="{bogus}")

    with pytest.raises(OutputRuleError):
        output_path(SourceFile(tmp_path / "a.wav"), rules, ".mp3", "mp3", {})


def test_up_to_date_needs_newer_non_empty_target(tmp_path: Path) -> None:
    source = make(tmp_path / "a.flac")
    target = make(tmp_path / "a.mp3")
    os.utime(source, (1_000, 1_000))
    os.utime(target, (2_000, 2_000))

    assert is_up_to_date(source, target)
    os.utime(target, (500, 500))
    assert not is_up_to_date(source, target)
    target.write_bytes(b"")
    os.utime(target, (2_000, 2_000))
    assert not is_up_to_date(source, target)
    assert not is_up_to_date(source, tmp_path / "missing.mp3")
    assert not is_up_to_date(tmp_path / "gone.flac", target)


def test_source_is_never_its_own_output(tmp_path: Path) -> None:
    source = make(tmp_path / "a.wav")

    assert not is_up_to_date(source, source)


def test_free_target_is_used_by_every_policy(tmp_path: Path) -> None:
    target = tmp_path / "a.mp3"

    for policy in OverwritePolicy:
        assert resolve_target(target, tmp_path / "a.flac", policy) == target


def test_existing_target_per_policy(tmp_path: Path) -> None:
    source = make(tmp_path / "a.flac")
    target = make(tmp_path / "a.mp3")
    make(tmp_path / "a (1).mp3")

    assert resolve_target(target, source, OverwritePolicy.SKIP) is None
    assert resolve_target(target, source, OverwritePolicy.NUMBER) == (
        tmp_path / "a (2).mp3"
    )
    assert resolve_target(target, source, OverwritePolicy.OVERWRITE) == target
    with pytest.raises(TargetExists) as raised:
        resolve_target(target, source, OverwritePolicy.ASK)
    assert raised.value.target == target
    assert str(target) in str(raised.value)


@pytest.mark.parametrize(
    "policy",
    [OverwritePolicy.NUMBER, OverwritePolicy.OVERWRITE, OverwritePolicy.ASK],
)
def test_source_itself_gets_numbered_name(
    tmp_path: Path, policy: OverwritePolicy
) -> None:
    source = make(tmp_path / "a.wav")

    assert resolve_target(source, source, policy) == tmp_path / "a (1).wav"
    assert resolve_target(source, source, OverwritePolicy.SKIP) is None


def test_source_reached_through_link_is_protected(tmp_path: Path) -> None:
    source = make(tmp_path / "real" / "a.wav")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    target = tmp_path / "link" / "a.wav"

    resolved = resolve_target(target, source, OverwritePolicy.OVERWRITE)

    assert resolved == tmp_path / "link" / "a (1).wav"


def test_broken_link_counts_as_existing(tmp_path: Path) -> None:
    target = tmp_path / "a.mp3"
    target.symlink_to(tmp_path / "nowhere")

    assert resolve_target(target, tmp_path / "a.flac", OverwritePolicy.SKIP) is None
