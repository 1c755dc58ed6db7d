__version__ = "0.1.0"

def __getattr__(name):
    "`mnist_report.predict` without importing torch on `import mnist_report`."
    if name == 'predict':
        from .packaged import predict
        return predict
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
