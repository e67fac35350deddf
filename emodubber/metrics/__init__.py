"""emodubber.metrics"""
