"""emodubber.data"""
