"""(being written)"""
JOB_TYPES: tuple = ()
