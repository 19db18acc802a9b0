"""Bitrix24: the REST client, the emulated portal, and the company's CRM domain layer.

Knows Bitrix24 and nothing of Telegram.
"""
