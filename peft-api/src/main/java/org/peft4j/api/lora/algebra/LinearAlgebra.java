package org.peft4j.api.lora.algebra;

import java.util.Arrays;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.QRDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.apache.commons.math3.random.RandomGenerator;
import org.apache.commons.math3.random.Well19937c;
import org.peft4j.api.safetensors.DType;
import org.peft4j.api.safetensors.Tensor;

/**
 * Singular value and QR decompositions of 2-D {@link Tensor}s, computed in double precision with
 * Apache Commons Math ({@link SingularValueDecomposition}, {@link QRDecomposition}).
 *
 * <p>A truncated SVD of a matrix larger than {@value #EXACT_SVD_LIMIT} on a side is computed by a
 * randomized low-rank SVD (Halko, Martinsson and Tropp 2009, algorithms 4.4 and 5.1), as PyTorch's
 * {@code torch.svd_lowrank} computes it (torch/_lowrank.py, {@code get_approximate_basis}, lines
 * 11-84, and {@code _svd_lowrank}, lines 149-180, in torch 2.13): a Gaussian test matrix Ω [cols, q]
 * (drawn from a seeded generator, so the result is reproducible), Q = qr(M Ω).Q, then {@code niter}
 * subspace iterations Q = qr(M Q') .Q with Q' = qr(Mᵀ Q).Q, each re-orthonormalised by a QR
 * decomposition, and last an exact SVD of the small projected matrix Qᵀ M [q, cols], whose left
 * vectors are mapped back by Q. Like torch, a wide matrix is decomposed through its transpose.
 */
public final class LinearAlgebra {
    /** The largest side of a matrix whose truncated SVD is computed exactly. */
    public static final int EXACT_SVD_LIMIT = 1024;
    /** The subspace iterations of a randomized SVD unless chosen: {@code torch.svd_lowrank}'s default. */
    public static final int DEFAULT_NITER = 2;
    /** The extra columns a randomized truncated SVD samples beyond the rank it keeps (Halko et al.'s p). */
    public static final int OVERSAMPLING = 10;

    private LinearAlgebra() {}

    /**
     * Returns the thin SVD of a 2-D floating-point tensor, exactly: k = min(rows, cols) triplets, as F64.
     *
     * @throws IllegalArgumentException if the tensor is not a 2-D floating-point tensor
     */
    public static Svd svd(Tensor m) {
        RealMatrix a = Matrices.toMatrix(m, "matrix");
        return exactSvd(a, Math.min(a.getRowDimension(), a.getColumnDimension())).toSvd(DType.F64);
    }

    /**
     * Returns the leading {@code rank} singular triplets of a 2-D floating-point tensor, as F64: exact
     * when neither side exceeds {@value #EXACT_SVD_LIMIT}, otherwise by a randomized SVD that samples
     * {@code rank + }{@value #OVERSAMPLING} directions and refines them with {@code niter} subspace
     * iterations. Fewer than {@code rank} triplets come back when the matrix has fewer than
     * {@code rank} rows or columns.
     *
     * @param seed seeds the random test matrix (unused by the exact path)
     * @throws IllegalArgumentException if the tensor is not 2-D floating-point, rank is not positive
     *     or niter is negative
     */
    public static Svd svd(Tensor m, int rank, int niter, long seed) {
        return truncatedSvd(Matrices.toMatrix(m, "matrix"), rank, niter, seed).toSvd(DType.F64);
    }

    /**
     * Returns {@code torch.svd_lowrank(m, q, niter)}'s approximation, with Vᵀ in place of V: exactly
     * q sampled directions, no oversampling, whatever the matrix's size (PiSSA's
     * {@code pissa_niter_N} calls it so).
     *
     * @param seed seeds the random test matrix
     * @throws IllegalArgumentException if the tensor is not 2-D floating-point, q is not positive or
     *     niter is negative
     */
    public static Svd randomizedSvd(Tensor m, int q, int niter, long seed) {
        return randomizedSvd(Matrices.toMatrix(m, "matrix"), q, niter, new Well19937c(seed)).toSvd(DType.F64);
    }

    /**
     * Returns the thin QR decomposition of a 2-D floating-point tensor, as F64.
     *
     * @throws IllegalArgumentException if the tensor is not a 2-D floating-point tensor
     */
    public static Qr qr(Tensor m) {
        RealMatrix a = Matrices.toMatrix(m, "matrix");
        QRDecomposition qr = new QRDecomposition(a);
        int k = Math.min(a.getRowDimension(), a.getColumnDimension());
        return new Qr(Matrices.toTensor(Matrices.firstColumns(qr.getQ(), k), DType.F64),
                Matrices.toTensor(Matrices.firstRows(qr.getR(), k), DType.F64));
    }

    /** The leading {@code rank} triplets: exact up to {@value #EXACT_SVD_LIMIT} a side, randomized beyond. */
    static Factors truncatedSvd(RealMatrix a, int rank, int niter, long seed) {
        requirePositive("rank", rank);
        int rows = a.getRowDimension();
        int cols = a.getColumnDimension();
        if (Math.max(rows, cols) <= EXACT_SVD_LIMIT) {
            return exactSvd(a, rank);
        }
        int k = Math.min(rank, Math.min(rows, cols));
        Factors wide = randomizedSvd(a, Math.min(k + OVERSAMPLING, Math.min(rows, cols)), niter, new Well19937c(seed));
        return truncate(wide, k);
    }

    /**
     * The exact SVD of a product B·A of thin factors (B [out, r], A [r, in]) without forming it: with
     * B = Q_b R_b and Aᵀ = Q_a R_a, B·A = Q_b (R_b R_aᵀ) Q_aᵀ, so the SVD of the small r×r core,
     * mapped back by Q_b and Q_a, is the SVD of B·A, at any size.
     */
    static Factors productSvd(RealMatrix b, RealMatrix a) {
        QRDecomposition qb = new QRDecomposition(b);
        QRDecomposition qa = new QRDecomposition(a.transpose());
        int kb = Math.min(b.getRowDimension(), b.getColumnDimension());
        int ka = Math.min(a.getRowDimension(), a.getColumnDimension());
        RealMatrix core = Matrices.firstRows(qb.getR(), kb).multiply(Matrices.firstRows(qa.getR(), ka).transpose());
        Factors small = exactSvd(core, Math.min(kb, ka));
        return new Factors(Matrices.firstColumns(qb.getQ(), kb).multiply(small.u()), small.s(),
                small.vt().multiply(Matrices.firstColumns(qa.getQ(), ka).transpose()));
    }

    /** The exact SVD's leading {@code rank} triplets (all of them if there are fewer). */
    static Factors exactSvd(RealMatrix a, int rank) {
        SingularValueDecomposition svd = new SingularValueDecomposition(a);
        return truncate(new Factors(svd.getU(), svd.getSingularValues(), svd.getVT()), rank);
    }

    private static Factors truncate(Factors f, int rank) {
        int k = Math.min(rank, f.s().length);
        if (k == f.s().length) {
            return f;
        }
        return new Factors(Matrices.firstColumns(f.u(), k), Arrays.copyOf(f.s(), k), Matrices.firstRows(f.vt(), k));
    }

    /** torch.svd_lowrank's algorithm with q sampled directions (see the class comment). */
    static Factors randomizedSvd(RealMatrix a, int q, int niter, RandomGenerator random) {
        requirePositive("q", q);
        if (niter < 0) {
            throw new IllegalArgumentException("niter must be >= 0, got " + niter);
        }
        boolean wide = a.getRowDimension() < a.getColumnDimension();
        RealMatrix tall = wide ? a.transpose() : a;
        int cols = tall.getColumnDimension();
        int directions = Math.min(q, cols);
        RealMatrix omega = new Array2DRowRealMatrix(cols, directions);
        for (int i = 0; i < cols; i++) {
            for (int j = 0; j < directions; j++) {
                omega.setEntry(i, j, random.nextGaussian());
            }
        }
        RealMatrix tallT = tall.transpose();
        RealMatrix basis = orthonormalColumns(tall.multiply(omega));
        for (int i = 0; i < niter; i++) {
            basis = orthonormalColumns(tallT.multiply(basis));
            basis = orthonormalColumns(tall.multiply(basis));
        }
        Factors small = exactSvd(basis.transpose().multiply(tall), directions);
        RealMatrix u = basis.multiply(small.u());
        return wide ? new Factors(small.vt().transpose(), small.s(), u.transpose()) : new Factors(u, small.s(), small.vt());
    }

    /** Q of the thin QR decomposition: orthonormal columns spanning those of {@code x} (rows >= columns). */
    static RealMatrix orthonormalColumns(RealMatrix x) {
        return Matrices.firstColumns(new QRDecomposition(x).getQ(), x.getColumnDimension());
    }

    private static void requirePositive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
    }
}
