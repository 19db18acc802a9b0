"""Tests of the Bitrix24 layer: the emulated portal, the client, the domain layer."""
