"""Both document store backends against the contract, plus what is particular to each."""

from __future__ import annotations

import pytest
from content_support import OpenStore
from document_store_contract import DocumentStoreContract


class TestEmbeddedDocumentStore(DocumentStoreContract):
    @pytest.fixture
    def open_store(self, open_embedded: OpenStore) -> OpenStore:
        return open_embedded


class TestServerDocumentStore(DocumentStoreContract):
    @pytest.fixture
    def open_store(self, open_server: OpenStore) -> OpenStore:
        return open_server
