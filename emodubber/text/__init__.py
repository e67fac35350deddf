"""emodubber.text"""
