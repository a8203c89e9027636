import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes an executable script for a test, with a close-on-exec descriptor.
///
/// A script written while another thread starts a process can otherwise leak its open-for-writing descriptor into
/// that process, and every exec of the script then fails with ETXTBSY for as long as the process lives.
public func writeExecutableScript(at path: String, _ contents: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
    guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
    defer { close(fd) }
    let bytes = Array(contents.utf8)
    var written = 0
    while written < bytes.count {
        let result = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard result > 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        written += result
    }
    fchmod(fd, 0o755)
}
