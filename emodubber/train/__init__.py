"""emodubber.train"""
