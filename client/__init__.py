"""Skiff's shared client library: typed API client, informers, work queue, leader election, codecs."""
