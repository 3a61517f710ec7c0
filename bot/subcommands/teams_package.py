"""`python -m bot teams-package`: build the Teams app package (a zip) to upload to Teams.

Takes config/teams/manifest.json and its two icons, puts the bot's Microsoft App ID
(from --app-id or MICROSOFT_APP_ID) into the manifest, and writes a zip an
administrator uploads in the Teams admin centre (or Teams, "Upload a custom app").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import zipfile
from pathlib import Path

from bot.settings import PROJECT_ROOT

TEAMS_DIR = PROJECT_ROOT / "config" / "teams"
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "teams-package",
        help="build the Teams app package (zip) for upload",
        description="Build the Teams app package from config/teams with your bot's app id.",
    )
    parser.add_argument("--app-id", help="the bot's Microsoft App ID (default: $MICROSOFT_APP_ID)")
    parser.add_argument(
        "--version", default=None, help="app version, e.g. 1.0.1 (default: the manifest's)"
    )
    parser.add_argument(
        "--out",
        default="strategy-tracker-teams.zip",
        help="zip file to write (default: %(default)s)",
    )
    parser.set_defaults(func=run)


def build_package(app_id: str, out: Path, version: str | None = None) -> dict:
    if not GUID.match(app_id or ""):
        raise ValueError(
            f"{app_id!r} is not a Microsoft App ID (a GUID such as "
            "12345678-abcd-4ef0-9876-0123456789ab): copy it from the Azure Bot resource"
        )
    manifest = json.loads((TEAMS_DIR / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = app_id
    for bot in manifest["bots"]:
        bot["botId"] = app_id
    if version:
        manifest["version"] = version
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for icon in ("color.png", "outline.png"):
            package.write(TEAMS_DIR / icon, icon)
    return manifest


def run(args: argparse.Namespace) -> int:
    app_id = (args.app_id or os.environ.get("MICROSOFT_APP_ID") or "").strip()
    try:
        build_package(app_id, Path(args.out), args.version)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: upload it in the Teams admin centre (see docs/channels.md)")
    return 0
