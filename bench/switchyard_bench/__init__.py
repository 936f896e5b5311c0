"""`make bench`: Switchyard's cost measured against going direct and against a peer gateway.

Everything here is bench code: it starts the suite, a CSMS peer, the peer gateway and the load
generator processes itself, measures, and writes bench/results/<date>.json and a plot.
"""
