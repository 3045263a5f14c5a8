"""moto server as the local AWS runs it (lib/local-aws.ts): moto's own server, with one change.

moto delivers a message sent to a queue with a Lambda event source mapping straight to the function,
inside SendMessage, by running it in Docker (none here: the delivery fails and the message is made
visible again with its receive count raised, so it drifts into the dead-letter queue unprocessed).
On AWS, Lambda's pollers receive from the queue instead; locally the gateway does (runtime/sqs-poller.ts).
So queues here keep no mappings: SendMessage only enqueues, and the mapping itself is still created,
listed and deleted by moto's Lambda API as usual.
"""
import sys

from moto.sqs.models import Queue


def _no_mappings(self):
    return {}


def _ignore(self, value):
    pass


Queue.lambda_event_source_mappings = property(_no_mappings, _ignore)

if __name__ == "__main__":
    from moto.server import main

    sys.argv[0] = "moto_server"
    sys.exit(main())
