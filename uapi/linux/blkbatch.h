/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * blkbatch: batched block I/O through one io_uring command.
 *
 * A block device is attached through the control device
 * (BLKBATCH_CTL_DEV).  Each attached device gets a character device
 * /dev/blkbatchN.  A batch is an array of struct blkbatch_entry in user
 * memory; one IORING_OP_URING_CMD with cmd_op BLKBATCH_URING_CMD_SUBMIT on a
 * ring created with IORING_SETUP_SQE128 submits all of it.  The 80-byte
 * command area of the SQE holds a struct blkbatch_cmd.  Where the kernel
 * has them (BLKBATCH_F_SQE_MIXED: 6.19 and later), the same command can
 * be an IORING_OP_URING_CMD128 on a ring created with
 * IORING_SETUP_SQE_MIXED, whose other SQEs stay 64 bytes: it takes two
 * adjacent slots, never the ring's last one.
 *
 * Protocol of one batch
 * ---------------------
 * 1. The kernel copies struct blkbatch_cmd and then the whole entry array
 *    exactly once, when it issues the command; later changes are never
 *    seen.  When that is depends on how the SQE is issued: inline by
 *    io_uring_enter() (the default), before it returns; on an
 *    IORING_SETUP_SQPOLL ring, by the SQ thread, before the SQ head moves
 *    past the SQE (liburing hands the slot out again only after that);
 *    with IOSQE_ASYNC, in an io-wq worker, possibly after io_uring_enter()
 *    returned; after the head of an IOSQE_IO_LINK chain or behind
 *    IOSQE_IO_DRAIN, when its turn comes.  The one rule that holds in
 *    every case: the entry array, its iovec arrays and the data buffers
 *    belong to the kernel from submission until the CQE.  The SQE slot
 *    itself may be reused once io_uring_enter() returned (SQPOLL: once
 *    the SQ head passed it); but kernels up to 6.13 read a uring_cmd SQE
 *    only when they issue it, which for a request after a link head or
 *    held by DRAIN is later: give such SQEs IOSQE_ASYNC (the kernel then
 *    copies them at submit) or keep their slot untouched until the CQE.
 *    From 6.14 on, io_uring copies every uring_cmd SQE it has to defer
 *    when it is submitted, and the caveat is gone.
 *
 * 2. Every entry is validated before any I/O is issued.  If any check
 *    fails, nothing is issued, the status array is not written, the CQE
 *    res is the negative errno and, on a ring with IORING_SETUP_CQE32, the
 *    first extra CQE word is the index of the offending entry (or
 *    BLKBATCH_NO_ENTRY if the error is not about one entry).  The checks
 *    run in this order, first failure wins.  io_uring itself checks the
 *    SQE before the module sees it, and its errors carry 0, not
 *    BLKBATCH_NO_ENTRY, in the CQE32 extra word:
 *
 *      io_uring: ioprio set, uring_cmd_flags not
 *               IORING_URING_CMD_FIXED                -EINVAL
 *      io_uring: IORING_OP_URING_CMD128 on a kernel
 *               before 6.19, on a ring with neither
 *               SQE128 nor SQE_MIXED, or in the
 *               ring's last slot                      -EINVAL
 *      io_uring: IORING_URING_CMD_FIXED and buf_index
 *               names no registered buffer            -EFAULT
 *               (6.1, 6.12: at submission; from 6.15
 *               io_uring looks the buffer up when the
 *               module checks the first read or write
 *               entry, and the CQE32 word names it)
 *
 *    Then the module:
 *
 *      SQE:     cmd_op unknown                        -ENOTTY
 *      SQE:     64 bytes (IORING_OP_URING_CMD on a
 *               ring without IORING_SETUP_SQE128)     -EOPNOTSUPP
 *      SQE:     addr, len, ioprio or file_index set   -EINVAL
 *      SQE:     uring_cmd_flags this module does not
 *               support (see BLKBATCH_F_FIXED)        -EOPNOTSUPP
 *      device:  detached                              -ENODEV
 *      command: rsvd non-zero, unknown flags          -EINVAL
 *      command: nr == 0                               -EINVAL
 *      command: nr > blkbatch_info.max_entries        -E2BIG
 *      command: entries or status not accessible      -EFAULT
 *      entry:   rsvd non-zero, unknown op or flag,
 *               flag not valid for the op             -EINVAL
 *      entry:   len == 0 for an op with a range; a
 *               field the op does not take is not 0;
 *               with BLKBATCH_EF_VEC: nr_vecs not in
 *               1 .. max_vecs                         -EINVAL
 *      entry:   BLKBATCH_EF_VEC in a fixed-buffer
 *               batch where the kernel cannot (no
 *               BLKBATCH_F_FIXED_VEC: before 6.15)    -EOPNOTSUPP
 *      entry:   len > blkbatch_info.max_entry_bytes   -E2BIG
 *      entry:   offset + len wraps around 2^64        -EOVERFLOW
 *      entry:   offset or len not a multiple of the
 *               logical block size, buffer address
 *               not a multiple of dma_alignment       -EINVAL
 *      entry:   offset + len > capacity               -ENOSPC
 *      entry:   fixed-buffer batch: buffer not inside
 *               the registered buffer; with
 *               BLKBATCH_EF_VEC: the iovec array not
 *               readable, or an iovec (a zero-length
 *               one too) not inside it                -EFAULT
 *      entry:   fixed-buffer batch, BLKBATCH_EF_VEC:
 *               the iovec lengths do not add up to
 *               exactly len                           -EINVAL
 *      entry:   fixed-buffer batch: the registered
 *               buffer's pages cut the range into
 *               pieces whose address or length is not
 *               aligned as above (a range that starts
 *               off a page boundary at no multiple of
 *               the logical block size)               -EINVAL
 *      entry:   READ on a file opened without read
 *               access (O_WRONLY)                     -EBADF
 *      entry:   write-type op (WRITE, DISCARD,
 *               WRITE_ZEROES) on a file opened
 *               without write access                  -EBADF
 *      entry:   write-type op on a read-only attach
 *               or read-only device                   -EPERM
 *
 * 3. Then the entries are issued in array order, each split into as many
 *    bios as the device needs; an entry is never partially reported: its
 *    status is either its full length in bytes or a negative errno.
 *    Entries complete in any order and are not ordered against each other
 *    (two entries on overlapping ranges race; a FLUSH covers only writes
 *    that completed before it) unless a BARRIER separates them: the
 *    entries after a barrier are issued only once every entry before it
 *    has completed.  The kernel issues them from the completion of the
 *    earlier ones; the submitter is never blocked waiting.  A group commit
 *    in one submission:
 *
 *        WRITE log record 0 .. WRITE log record 63,
 *        BARRIER, FLUSH, BARRIER,
 *        WRITE commit record with BLKBATCH_EF_FUA
 *
 *    Errors found while issuing an entry are reported in its status:
 *    -EFAULT (its buffer or iovec array is not accessible user memory, or
 *    a READ targets read-only memory), -EINVAL (with BLKBATCH_EF_VEC: the
 *    iovec lengths do not add up to exactly len, or an iovec base or
 *    length is not aligned like a buffer address and len), -EOPNOTSUPP
 *    (DISCARD or WRITE_ZEROES on a device that cannot do it: see
 *    BLKBATCH_F_DISCARD and BLKBATCH_F_WRITE_ZEROES), -ENOMEM.  An iovec
 *    array is read in the ABI of the task that set up the ring (a 32-bit
 *    task's ring takes struct compat_iovec), or of the caller of
 *    BLKBATCH_IOC_SUBMIT, whoever issues the entry; zero-length iovecs are
 *    skipped, their base is not looked at.  In a fixed-buffer batch
 *    (BLKBATCH_F_FIXED_VEC) io_uring reads the array twice, at validation
 *    and when the entry is issued, and finds every iovec, zero-length
 *    ones too, in the registered buffer.  Entries after a BARRIER are
 *    checked again when they are issued, against the device as it is
 *    then: one that became read-only fails write-type entries with -EPERM,
 *    one that shrank or changed its block size fails the entries that no
 *    longer fit with the validation errno (-ENOSPC, -EINVAL, -E2BIG).
 *    Write-type entries keep the block device's page cache coherent, as
 *    the kernel's direct I/O does: cached pages of their range are written
 *    back and dropped before they are issued (a failed write-back, or a
 *    page that cannot be dropped, fails the entry: -EIO, -EBUSY) and
 *    dropped again after.  I/O errors (-EIO and the other block layer
 *    errors) are reported per entry as well.  None of them stops the
 *    other entries unless the batch has BLKBATCH_CMD_F_ABORT_ON_ERROR (see
 *    there).  If the submitting process is killed, entries not yet issued
 *    report -EINTR.
 *
 * 4. When every bio of every entry has completed, the kernel writes one
 *    __s32 per entry to the status array (if cmd.status is not 0) and
 *    posts exactly one CQE.  Its res is the number of entries whose status
 *    is >= 0.  res == nr means the whole batch succeeded.  If the status
 *    array cannot be written at completion time (bad memory, or the task
 *    that owns the ring is exiting), res is -EFAULT although the I/O was
 *    done.
 *
 * What ran: an entry's status says exactly what happened to it.
 *   >= 0		issued and succeeded: READ/WRITE len (bytes
 *			transferred), FLUSH, DISCARD, WRITE_ZEROES and BARRIER 0.
 *   -ECANCELED	never issued: an earlier entry of an ABORT_ON_ERROR batch
 *			failed.  Nothing of it was done.  A BARRIER of such a
 *			batch reports it if any entry before it failed.
 *   -EINTR		never issued: the submitter was killed.  Nothing of it
 *			was done.
 *   -ENODEV	never issued: the disk went away (see below) before the
 *			entry's segment started.  Nothing of it was done.
 *   other < 0	issued, or refused while being issued, and failed.  A
 *			failed READ or WRITE may have been partly performed: part
 *			of its range written, part of its buffer filled.
 *
 * Completion modes.  On any ring the batch completes by interrupt.  On an
 * IORING_SETUP_IOPOLL ring (BLKBATCH_F_IOPOLL), if the device has poll
 * queues (/sys/block/X/queue/io_poll is 1), READ and WRITE entries that
 * fit one request are issued as polled bios, which the ring's own polling
 * completes with no interrupt; the others (vectored, larger, other ops)
 * complete by interrupt in the same batch.  A polled bio never waits: if
 * it would (no free tag, a frozen queue), its entry is issued again once
 * the rest of its segment has completed, this time waiting and not
 * polled.  Either way the entry's status is the same, so a device without
 * poll queues, or one that loses them, only costs speed.  On an
 * IORING_SETUP_SQPOLL ring the kernel's SQ thread submits (and, with
 * IOPOLL too, polls): the steady state needs no system call.
 *
 * BLKBATCH_IOC_SUBMIT runs the same batch (same validation, same entry
 * semantics) synchronously on the /dev/blkbatchN file: it returns what
 * the CQE res would be, or -1 with errno set (a validation error, whose
 * entry index it cannot report).  It waits for completion, and only a
 * fatal signal ends the wait early: the call then fails with EINTR, the
 * status array is not written, and the bios in flight complete in the
 * background.  Fixed buffers need io_uring.
 *
 * A disk that goes away.  When the attached disk is deleted (hot removal,
 * NVMe controller deletion, a fabrics controller giving up: anything that
 * ends in del_gendisk()), new batches and GET_INFO fail with -ENODEV; the
 * batches in flight complete, their issued entries with whatever the
 * block layer reports (-EIO or another error, or success), their entries
 * after a BARRIER with -ENODEV; once the last one has completed, the
 * device detaches itself and /dev/blkbatchN goes away (open files then
 * behave as after BLKBATCH_CTL_DETACH).  From 6.9 the block layer tells
 * the module at once (the holder's mark_dead); 6.1 has no such call, and
 * the module notices when a batch or a later segment starts.  The
 * kernel log says which happened.
 *
 * The control device's ioctls need CAP_SYS_ADMIN (-EPERM otherwise).
 *
 * sysfs
 * -----
 * Each /dev/blkbatchN has, in /sys/class/misc/blkbatchN/:
 *   dev_backing	the attached block device's "MAJ:MIN"
 *   read_only		1 if attached read-only or the device is, else 0
 *   inflight		batches between validation and completion
 *   stat		one line of decimal counters since attach, in this
 *			order: batches (finished), entries (of those),
 *			bytes_read and bytes_written (READ and WRITE entries
 *			that succeeded), entries_failed (negative status),
 *			batches_invalid (refused by validation of the command
 *			or its entries), polled_bios, retried_entries.  New
 *			counters are only ever appended.
 */
#ifndef _UAPI_LINUX_BLKBATCH_H
#define _UAPI_LINUX_BLKBATCH_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define BLKBATCH_CTL_DEV	"/dev/blkbatch-control"
#define BLKBATCH_DEV_FMT	"/dev/blkbatch%u"

/*
 * Bumped when the protocol gains something; see blkbatch_info.version.
 * 2: blkbatch_info.dev_major and dev_minor (BLKBATCH_F_DEV_T).
 * 3: BLKBATCH_F_FIXED_VEC and BLKBATCH_F_SQE_MIXED, set where the kernel
 *    has what they need.
 */
#define BLKBATCH_VERSION	3

#define BLKBATCH_IOC_MAGIC	0xbb

/*
 * struct blkbatch_entry - one I/O of a batch (32 bytes).
 *
 * @op:		BLKBATCH_OP_*.
 * @rsvd0:	must be 0.
 * @flags:	BLKBATCH_EF_*.
 * @len:	length in bytes.  READ/WRITE: data length (with BLKBATCH_EF_VEC
 *		the sum of the iovec lengths, which must match);
 *		DISCARD/WRITE_ZEROES: range length; FLUSH/BARRIER: must be 0.
 * @offset:	byte offset on the device; FLUSH/BARRIER: must be 0.
 * @addr:	READ/WRITE: user address of the buffer or, with
 *		BLKBATCH_EF_VEC, of a struct iovec array.  In a fixed-buffer
 *		batch (IORING_URING_CMD_FIXED) the buffer lies inside the
 *		registered buffer sqe->buf_index and @addr is its user
 *		address there.  Other ops: must be 0.
 * @nr_vecs:	with BLKBATCH_EF_VEC: number of iovecs at @addr, 1 ..
 *		blkbatch_info.max_vecs (-EINVAL otherwise); the iovec lengths
 *		must add up to @len (-EINVAL otherwise); otherwise must be 0.
 * @rsvd1:	must be 0.
 */
struct blkbatch_entry {
	__u8	op;
	__u8	rsvd0;
	__u16	flags;
	__u32	len;
	__u64	offset;
	__u64	addr;
	__u32	nr_vecs;
	__u32	rsvd1;
};

enum {
	BLKBATCH_OP_READ		= 0,
	BLKBATCH_OP_WRITE		= 1,
	/* cache flush: a zero-length preflush write */
	BLKBATCH_OP_FLUSH		= 2,
	BLKBATCH_OP_DISCARD		= 3,
	BLKBATCH_OP_WRITE_ZEROES	= 4,
	/*
	 * No I/O.  Every entry after the barrier is issued only after every
	 * entry before it has completed.  Status 0.
	 */
	BLKBATCH_OP_BARRIER		= 5,
	BLKBATCH_OP_LAST		= BLKBATCH_OP_BARRIER,
};

/* Entry flags (struct blkbatch_entry.flags). */
/* WRITE only: forced unit access, the data is durable when the entry ends. */
#define BLKBATCH_EF_FUA		_BITUL(0)
/* READ/WRITE only: @addr points to @nr_vecs struct iovec. */
#define BLKBATCH_EF_VEC		_BITUL(1)
#define BLKBATCH_EF_ALL		(BLKBATCH_EF_FUA | BLKBATCH_EF_VEC)

/*
 * struct blkbatch_cmd - the SQE command area of BLKBATCH_URING_CMD_SUBMIT,
 * and the argument of BLKBATCH_IOC_SUBMIT.  Exactly 80 bytes: the whole
 * command area of an SQE128 entry.
 *
 * @entries:	user address of struct blkbatch_entry[@nr].
 * @status:	user address of __s32[@nr] for per-entry results, or 0 when
 *		only the CQE result is wanted.
 * @nr:		number of entries, 1 .. blkbatch_info.max_entries.
 * @flags:	BLKBATCH_CMD_F_*.
 * @rsvd:	must be 0.
 *
 * The other SQE fields: opcode IORING_OP_URING_CMD, cmd_op
 * BLKBATCH_URING_CMD_SUBMIT, fd an open /dev/blkbatchN (or a registered
 * file), uring_cmd_flags 0 or IORING_URING_CMD_FIXED (then buf_index names
 * the registered buffer all READ/WRITE entries lie in).  addr, len, ioprio
 * and file_index must be 0 (checked where the kernel exposes them).
 */
struct blkbatch_cmd {
	__u64	entries;
	__u64	status;
	__u32	nr;
	__u32	flags;
	__u64	rsvd[7];
};

/*
 * Abort on error: once an entry fails, entries not yet issued are not
 * issued and report -ECANCELED.  Entries already issued finish and report
 * their own result.  The entries of one segment (between barriers) are
 * issued back to back, so a failure usually cancels only later segments;
 * put a BARRIER after an entry whose failure must stop the rest.  A
 * BARRIER is passed once every entry before it has completed: it reports
 * -ECANCELED if any of them failed (whether at issue or on the device),
 * else 0.  Without this flag every entry is issued and reports its own
 * result, BARRIERs 0.
 */
#define BLKBATCH_CMD_F_ABORT_ON_ERROR	_BITUL(0)
#define BLKBATCH_CMD_F_ALL		BLKBATCH_CMD_F_ABORT_ON_ERROR

/* Value of the CQE32 extra word when a batch error names no entry. */
#define BLKBATCH_NO_ENTRY	(~0ULL)

/*
 * struct blkbatch_info - BLKBATCH_IOC_GET_INFO on /dev/blkbatchN.
 *
 * @capacity:		device size in bytes.
 * @features:		BLKBATCH_F_* this module and device support.
 * @logical_block_size:	bytes; offsets and lengths are multiples of it.
 * @physical_block_size: bytes; informational.
 * @dma_alignment:	bytes; buffer addresses (and iovec bases) must be
 *			multiples of it.
 * @max_entries:	largest @nr of one batch.
 * @max_entry_bytes:	largest @len of one entry.
 * @max_hw_bytes:	largest single device I/O; larger entries are split,
 *			informational.
 * @max_vecs:		largest @nr_vecs of one vectored entry.
 * @max_discard_bytes:	largest single discard the device takes, 0 = none.
 * @attach_flags:	BLKBATCH_ATTACH_F_* the device was attached with.
 * @index:		N of /dev/blkbatchN.
 * @version:		BLKBATCH_VERSION of the module.
 * @rsvd0:		0.
 * @dev_major:		the attached block device's dev_t, as in
 * @dev_minor:		/sys/block/X/dev (version 2, BLKBATCH_F_DEV_T; a
 *			version 1 module leaves them 0).
 * @rsvd:		0.
 *
 * The struct never shrinks or moves a field: a program built against an
 * older header reads the fields it knows.
 */
struct blkbatch_info {
	__u64	capacity;
	__u64	features;
	__u32	logical_block_size;
	__u32	physical_block_size;
	__u32	dma_alignment;
	__u32	max_entries;
	__u32	max_entry_bytes;
	__u32	max_hw_bytes;
	__u32	max_vecs;
	__u32	max_discard_bytes;
	__u32	attach_flags;
	__u32	index;
	__u32	version;
	__u32	rsvd0;
	__u32	dev_major;
	__u32	dev_minor;
	__u64	rsvd[5];
};

/* Feature bits (struct blkbatch_info.features). */
#define BLKBATCH_F_READ_WRITE	_BITULL(0)	/* OP_READ, OP_WRITE */
#define BLKBATCH_F_FLUSH	_BITULL(1)	/* OP_FLUSH */
#define BLKBATCH_F_DISCARD	_BITULL(2)	/* OP_DISCARD on this device */
#define BLKBATCH_F_WRITE_ZEROES	_BITULL(3)	/* OP_WRITE_ZEROES on this device */
#define BLKBATCH_F_FUA		_BITULL(4)	/* EF_FUA */
#define BLKBATCH_F_VEC		_BITULL(5)	/* EF_VEC */
#define BLKBATCH_F_BARRIER	_BITULL(6)	/* OP_BARRIER */
#define BLKBATCH_F_ABORT	_BITULL(7)	/* CMD_F_ABORT_ON_ERROR */
#define BLKBATCH_F_FIXED	_BITULL(8)	/* IORING_URING_CMD_FIXED */
#define BLKBATCH_F_IOPOLL	_BITULL(9)	/* IOPOLL rings (see above) */
#define BLKBATCH_F_SYNC		_BITULL(10)	/* BLKBATCH_IOC_SUBMIT */
#define BLKBATCH_F_WRITE_CACHE	_BITULL(11)	/* device has a volatile cache */
#define BLKBATCH_F_CQE32_INDEX	_BITULL(12)	/* CQE32 names the bad entry */
#define BLKBATCH_F_DEV_T	_BITULL(13)	/* info.dev_major, dev_minor */
#define BLKBATCH_F_FIXED_VEC	_BITULL(14)	/* EF_VEC in a fixed-buffer batch */
#define BLKBATCH_F_SQE_MIXED	_BITULL(15)	/* URING_CMD128 on SQE_MIXED rings */

/*
 * struct blkbatch_attach - BLKBATCH_CTL_ATTACH on the control device.
 *
 * @path:	user address of the NUL-terminated path of a block device.
 *		It is opened exclusively.
 * @flags:	BLKBATCH_ATTACH_F_*.
 * @index:	out: N of the new /dev/blkbatchN; must be 0 on input.
 * @rsvd:	must be 0.
 *
 * Errors, in the order they are checked: -EPERM without CAP_SYS_ADMIN;
 * -EFAULT if the argument cannot be read; -EINVAL for a non-zero @rsvd or
 * @index, or an unknown flag; -EFAULT if @path cannot be read, -EINVAL if
 * it is longer than PATH_MAX; then what opening the block device says
 * (-EINVAL an empty path, -ENOENT no such file, -ENOTBLK not a block
 * device, -EACCES a read-write attach of a read-only device, -EBUSY held
 * exclusively by someone else, blkbatch included: a disk is attached at
 * most once);
 * -ENOSPC when 64 devices are attached; -EFAULT if @index cannot be
 * written (nothing is attached then); -ENOMEM.
 */
struct blkbatch_attach {
	__u64	path;
	__u32	flags;
	__u32	index;
	__u64	rsvd[2];
};

/* Open the block device read-only; write-type entries fail with -EPERM. */
#define BLKBATCH_ATTACH_F_RDONLY	_BITUL(0)
#define BLKBATCH_ATTACH_F_ALL		BLKBATCH_ATTACH_F_RDONLY

/*
 * struct blkbatch_detach - BLKBATCH_CTL_DETACH on the control device.
 *
 * @index:	N of /dev/blkbatchN.
 * @flags:	must be 0.
 * @rsvd:	must be 0.
 *
 * Errors: -EPERM without CAP_SYS_ADMIN; -EFAULT if the argument cannot be
 * read; -EINVAL for non-zero @flags or @rsvd; -ENODEV if nothing is
 * attached at @index; -EBUSY while any batch on it is in flight.  On files
 * still open on a detached device every batch and GET_INFO fails with
 * -ENODEV.
 */
struct blkbatch_detach {
	__u32	index;
	__u32	flags;
	__u64	rsvd[2];
};

#define BLKBATCH_CTL_ATTACH	_IOWR(BLKBATCH_IOC_MAGIC, 0x01, struct blkbatch_attach)
#define BLKBATCH_CTL_DETACH	_IOW(BLKBATCH_IOC_MAGIC, 0x02, struct blkbatch_detach)

#define BLKBATCH_IOC_GET_INFO	_IOR(BLKBATCH_IOC_MAGIC, 0x10, struct blkbatch_info)
/* Synchronous submit: returns what the CQE res would be. */
#define BLKBATCH_IOC_SUBMIT	_IOWR(BLKBATCH_IOC_MAGIC, 0x11, struct blkbatch_cmd)

/* io_uring cmd_op of a batch. */
#define BLKBATCH_URING_CMD_SUBMIT _IOWR(BLKBATCH_IOC_MAGIC, 0x20, struct blkbatch_cmd)

#endif /* _UAPI_LINUX_BLKBATCH_H */
