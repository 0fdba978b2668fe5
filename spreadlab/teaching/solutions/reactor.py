"""Solution for lesson 09 (The reactor's rules): ``PatientSpreader``
answers ``/slow`` with ``done`` two seconds later without blocking the
reactor, using the factory's clock.  ``check_patient(PatientFactory)``
passes."""

from ...servers.spread import SpreadFactory, Spreader

__all__ = ["PatientSpreader", "PatientFactory"]


class PatientSpreader(Spreader):
    def lineReceived(self, line):
        if line.strip() == b"/slow":
            self.factory.clock.callLater(2, self.sendLine, b"done")
            return
        super().lineReceived(line)


class PatientFactory(SpreadFactory):
    protocol = PatientSpreader
