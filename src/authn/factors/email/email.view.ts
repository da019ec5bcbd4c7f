import { otpChallengeView } from '../../one-time-codes/otp.view.js';

export const challengeView = otpChallengeView('email', 'E-mail a code to', 'Enter the 6-digit code we e-mailed to');
