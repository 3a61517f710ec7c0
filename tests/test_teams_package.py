"""The Teams app package: manifest with the app id, and icons Teams accepts."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image

from bot.cli import main
from bot.subcommands.teams_package import TEAMS_DIR, build_package

APP_ID = "12345678-abcd-4ef0-9876-0123456789ab"


def test_package_has_manifest_with_app_id_and_icons(tmp_path):
    out = tmp_path / "app.zip"
    assert main(["teams-package", "--app-id", APP_ID, "--out", str(out), "--version", "1.0.1"]) == 0
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        colour = Image.open(io.BytesIO(package.read("color.png")))
        outline = Image.open(io.BytesIO(package.read("outline.png")))
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID
    assert manifest["version"] == "1.0.1"
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "team", "groupChat"}
    assert colour.size == (192, 192)
    assert outline.size == (32, 32) and outline.mode == "RGBA"
    # outline icons must be white on transparent
    pixels = (
        outline.get_flattened_data()
        if hasattr(outline, "get_flattened_data")
        else outline.getdata()
    )
    assert {p[:3] for p in pixels if p[3]} == {(255, 255, 255)}
    assert any(p[3] == 0 for p in pixels)


def test_app_id_must_be_a_guid(tmp_path, capsys):
    assert main(["teams-package", "--app-id", "not-a-guid", "--out", str(tmp_path / "x.zip")]) == 2
    assert "is not a Microsoft App ID" in capsys.readouterr().err
    with pytest.raises(ValueError):
        build_package("", tmp_path / "y.zip")


def test_source_manifest_is_valid_json_with_placeholder_ids():
    manifest = json.loads((TEAMS_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert len(manifest["description"]["short"]) <= 80
    assert len(manifest["name"]["short"]) <= 30
