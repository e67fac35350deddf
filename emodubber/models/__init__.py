"""emodubber.models"""
