import Synchronization
import Testing
import TeleOpsCore
@testable import TeleOpsDispatch

/// The first of a run's end and its CANCEL decides, whichever order they come in; a CANCEL
/// stops the run once (even one that came before the run was attached), and never one that ended.
@Suite struct RunningTaskTests {
    @Test func theFirstEndingWinsAndTheSecondChangesNothing() {
        let finishedFirst = RunningTask()
        #expect(finishedFirst.finish() == .finished)
        finishedFirst.cancel()
        #expect(finishedFirst.finish() == .finished)

        let cancelledFirst = RunningTask()
        cancelledFirst.cancel()
        #expect(cancelledFirst.finish() == .cancelled)
    }

    @Test func aCancelStopsTheRunOnceWhenItComes() {
        let stops = Mutex(0)
        let running = RunningTask()
        running.attach(ExecStop { stops.withLock { $0 += 1 } })
        #expect(stops.withLock { $0 } == 0)
        running.cancel()
        running.cancel()
        #expect(stops.withLock { $0 } == 1)

        let early = RunningTask()
        early.cancel()
        early.attach(ExecStop { stops.withLock { $0 += 1 } })
        #expect(stops.withLock { $0 } == 2, "cancelled before the run was attached: stopped as it is attached")

        let ended = RunningTask()
        ended.attach(ExecStop { stops.withLock { $0 += 1 } })
        ended.finish()
        ended.cancel()
        #expect(stops.withLock { $0 } == 2, "a run that ended is not stopped")
    }
}
