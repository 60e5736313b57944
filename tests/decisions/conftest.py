from tests.events.test_webhooks import receiver, service, writer_of

__all__ = ["receiver", "service", "writer_of"]
