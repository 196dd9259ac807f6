from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missedmail.composing.thread_roots import (
    direct_root,
    group_direct_root,
    realm_host,
    stream_root,
)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://chat.example.com", "chat.example.com"),
        ("https://chat.example.com/", "chat.example.com"),
        ("http://localhost:9991", "localhost"),
        ("https://Chat.Example.COM", "chat.example.com"),
        ("https://bücher.example", "xn--bcher-kva.example"),
        ("https://user@chat.example.com", "chat.example.com"),
        ("not a url", "invalid"),
        ("", "invalid"),
    ],
)
def test_the_realm_host_is_the_ascii_host_of_the_realm_url(url: str, host: str) -> None:
    assert realm_host(url) == host


def test_roots_identify_the_conversation() -> None:
    assert direct_root(7, 11, "chat.example.com") == "<7.11@chat.example.com>"
    assert group_direct_root(8, "chat.example.com") == "<8@chat.example.com>"
    assert stream_root(3, "Test", "chat.example.com") == "<3.dGVzdA==@chat.example.com>"
    assert stream_root(3, "", "chat.example.com") == "<3.@chat.example.com>"


def test_stream_roots_ignore_topic_case() -> None:
    assert stream_root(3, "Release PLAN", "h") == stream_root(3, "release plan", "h")


@given(topic=st.text(), url=st.text())
def test_a_stream_root_is_always_ascii_without_spaces_with_one_at(topic: str, url: str) -> None:
    root = stream_root(3, topic, realm_host(url))

    assert root.isascii()
    assert " " not in root
    assert root.count("@") == 1
    encoded = root[len("<3.") : root.index("@")]
    assert base64.b64decode(encoded).decode("utf-8") == topic.lower()
