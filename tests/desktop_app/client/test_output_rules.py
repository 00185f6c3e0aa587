"""Output names, folders, up-to-date checks and overwrite policies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from desktop_app.client.errors import ClientError
from desktop_app.client.output_rules import (
    SOURCE_REPLACED,
    OutputRuleError,
    OutputRules,
    OverwritePolicy,
    TargetClaims,
    TargetExists,
    TargetIsSource,
    is_up_to_date,
    output_path,
    replaces_source,
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


@pytest.mark.parametrize("policy", list(OverwritePolicy))
def test_source_itself_is_rejected(tmp_path: Path, policy: OverwritePolicy) -> None:
    source = make(tmp_path / "a.wav")

    with pytest.raises(TargetIsSource) as raised:
        resolve_target(source, source, policy)

    assert str(raised.value) == f"{source}: {SOURCE_REPLACED}."
    assert raised.value.source == source
    assert isinstance(raised.value, OutputRuleError)


def test_source_reached_through_link_is_protected(tmp_path: Path) -> None:
    source = make(tmp_path / "real" / "a.wav")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    target = tmp_path / "link" / "a.wav"

    assert replaces_source(source, target)
    with pytest.raises(TargetIsSource):
        resolve_target(target, source, OverwritePolicy.OVERWRITE)


def test_other_file_does_not_replace_source(tmp_path: Path) -> None:
    source = make(tmp_path / "a.wav")

    assert not replaces_source(source, make(tmp_path / "b.wav"))
    assert not replaces_source(source, tmp_path / "missing.wav")


def test_broken_link_counts_as_existing(tmp_path: Path) -> None:
    target = tmp_path / "a.mp3"
    target.symlink_to(tmp_path / "nowhere")

    assert resolve_target(target, tmp_path / "a.flac", OverwritePolicy.SKIP) is None


# -- TargetClaims ---------------------------------------------------------------


@pytest.mark.parametrize("policy", list(OverwritePolicy))
def test_claims_number_second_output(tmp_path: Path, policy: OverwritePolicy) -> None:
    claims = TargetClaims()
    target = tmp_path / "out" / "s.mp3"

    first = claims.claim(target, tmp_path / "a" / "s.wav", policy)
    second = claims.claim(target, tmp_path / "b" / "s.wav", policy)

    assert first.path == target
    assert not first.renamed
    assert second.path == tmp_path / "out" / "s (1).mp3"
    assert second.renamed
    assert second.skip_reason is None


def test_claims_overwrite_reuses_numbered_name(tmp_path: Path) -> None:
    claims = TargetClaims()
    target = make(tmp_path / "s.mp3")
    numbered = make(tmp_path / "s (1).mp3")

    first = claims.claim(target, tmp_path / "a.wav", OverwritePolicy.OVERWRITE)
    second = claims.claim(target, tmp_path / "b.wav", OverwritePolicy.OVERWRITE)

    assert first.path == target
    assert first.overwrite is OverwritePolicy.OVERWRITE
    assert second.path == numbered
    assert second.overwrite is OverwritePolicy.OVERWRITE


def test_claims_number_skips_taken_names(tmp_path: Path) -> None:
    claims = TargetClaims()
    target = make(tmp_path / "s.mp3")

    first = claims.claim(target, tmp_path / "a.wav", OverwritePolicy.NUMBER)
    second = claims.claim(target, tmp_path / "b.wav", OverwritePolicy.NUMBER)

    assert first.path == tmp_path / "s (1).mp3"
    assert first.overwrite is OverwritePolicy.NUMBER
    assert second.path == tmp_path / "s (2).mp3"


def test_claims_skip_keeps_path_taken(tmp_path: Path) -> None:
    claims = TargetClaims()
    target = make(tmp_path / "s.mp3")
    numbered = make(tmp_path / "s (1).mp3")

    first = claims.claim(target, tmp_path / "a.wav", OverwritePolicy.SKIP)
    second = claims.claim(target, tmp_path / "b.wav", OverwritePolicy.SKIP)

    assert first.path is None
    assert first.skip_reason == f"{target} exists"
    assert second.path is None
    assert second.skip_reason == f"{numbered} exists"


def test_claims_up_to_date_output_is_skipped(tmp_path: Path) -> None:
    claims = TargetClaims()
    source = make(tmp_path / "a.wav")
    target = make(tmp_path / "a.mp3")
    os.utime(source, (1_000, 1_000))

    first = claims.claim(
        target, source, OverwritePolicy.OVERWRITE, skip_up_to_date=True
    )
    other = claims.claim(target, tmp_path / "b" / "a.wav", OverwritePolicy.NUMBER)

    assert first.path is None
    assert first.skip_reason == f"{target} is up to date"
    assert other.path == tmp_path / "a (1).mp3"


def test_claims_skip_source_itself(tmp_path: Path) -> None:
    claims = TargetClaims()
    source = make(tmp_path / "a.wav")

    claim = claims.claim(source, source, OverwritePolicy.NUMBER)
    other = claims.claim(source, tmp_path / "a.flac", OverwritePolicy.OVERWRITE)

    assert claim.path is None
    assert claim.skip_reason == SOURCE_REPLACED
    assert other.path == source


def test_claims_ask_takes_nothing(tmp_path: Path) -> None:
    claims = TargetClaims()
    target = make(tmp_path / "s.mp3")

    with pytest.raises(TargetExists):
        claims.claim(target, tmp_path / "a.wav", OverwritePolicy.ASK)
    answered = claims.claim(target, tmp_path / "a.wav", OverwritePolicy.OVERWRITE)

    assert answered.path == target
    assert not answered.renamed


def test_claims_ignore_case(tmp_path: Path) -> None:
    claims = TargetClaims()

    claims.claim(tmp_path / "Song.mp3", tmp_path / "a.wav", OverwritePolicy.NUMBER)
    second = claims.claim(
        tmp_path / "song.mp3", tmp_path / "b.wav", OverwritePolicy.NUMBER
    )

    assert second.path == tmp_path / "song (1).mp3"


def test_claims_release_frees_path(tmp_path: Path) -> None:
    claims = TargetClaims()
    target = tmp_path / "s.mp3"
    claims.claim(target, tmp_path / "a.wav", OverwritePolicy.NUMBER)

    claims.release(target)
    again = claims.claim(target, tmp_path / "b.wav", OverwritePolicy.NUMBER)

    assert again.path == target
