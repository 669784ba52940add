import Benchmark
import Runtime

func registerActorBenchmarks() {}
