"""The omnichannel inbox: channels and their adapters, conversations, messages, outbound delivery."""
