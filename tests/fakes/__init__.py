"""Loopback fakes of the services the bot talks to (Slack Web API, Bot Framework connector).

Each is a real aiohttp application served on 127.0.0.1 by aiohttp's TestServer, so the
bot's own HTTP clients (slack_sdk, botframework-connector) make real requests to them.
"""
