"""emodubber.modules"""
